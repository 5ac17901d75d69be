//! First start on the embedded default creates a demo clinic a newcomer can
//! log in to, once, and never in production mode.

use portico_server::config::Config;
use portico_server::demo::{DEMO_OWNER_EMAIL, DEMO_SLUG};
use portico_server::startup::Application;
use portico_tenants::Caller;
use portico_tenants::audit::ClientInfo;
use portico_tenants::domain::{EmailAddress, PlainPassword};
use portico_tenants::staff::SessionKind;

fn config(dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        ..Config::default()
    }
}

#[tokio::test]
async fn the_first_start_creates_a_demo_clinic_whose_owner_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = Application::build(config(dir.path())).await.unwrap();
    let demo = app
        .take_demo_credentials()
        .expect("first start creates the demo clinic");
    assert_eq!(demo.owner_email, DEMO_OWNER_EMAIL);
    let services = app.services().clone();
    let tenant = services.find_tenant(DEMO_SLUG).await.unwrap();
    let visitor = Caller::visitor(tenant.clone(), ClientInfo::default());
    let issued = services
        .staff_login(
            &visitor,
            &EmailAddress::parse(&demo.owner_email).unwrap(),
            &PlainPassword::new(demo.owner_password.clone()).unwrap(),
            SessionKind::Bearer,
        )
        .await
        .expect("the printed credentials work");
    // The demo clinic asks no second factor, so a newcomer's first login
    // needs no authenticator app.
    let portico_tenants::acts::staff::StaffLogin::Signed(issued) = issued else {
        panic!("the demo owner's password alone signs in");
    };
    assert!(!tenant.settings.staff_second_factor_required);
    let roles = services
        .authz
        .roles_of(&tenant, issued.staff.id)
        .await
        .unwrap();
    assert_eq!(
        roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        ["owner"]
    );
    assert_eq!(services.list_tenants().await.unwrap().len(), 1);

    // The patient's printed login works and her record has content on
    // every part of the page; her son's code waits to be redeemed.
    let patient = services
        .portal_login(
            &visitor,
            &portico_tenants::acts::portal_login::PortalLogin {
                login: portico_server::demo::DEMO_PATIENT_EMAIL.into(),
                password: PlainPassword::new(demo.patient_password.clone()).unwrap(),
            },
            None,
        )
        .await
        .expect("the printed patient login works");
    let portico_tenants::acts::portal_factors::PortalSignIn::Signed(patient) = patient else {
        panic!("the demo patient signs in with her password alone");
    };
    let who = services
        .patient_caller(tenant.clone(), &patient.token, ClientInfo::default())
        .await
        .unwrap();
    let (_, records) = services.portal_me(&who).await.unwrap();
    let names: Vec<&str> = records.iter().map(|r| r.patient_name.as_str()).collect();
    assert_eq!(names, ["Mia Wong", "Ava Wong"], "her own record first");
    // Ava is fourteen: her mother sees the limited view, without the
    // confidential note.
    assert!(records[1].is_limited());
    let ava = services
        .portal_shared_record(&who, records[1].patient_id)
        .await
        .unwrap();
    assert!(ava.shared.notes.is_empty());
    assert_eq!(ava.shared.appointments.len(), 1);
    let shared = services
        .portal_shared_record(&who, records[0].patient_id)
        .await
        .unwrap()
        .shared;
    assert_eq!(shared.documents.len(), 2);
    assert!(
        shared
            .documents
            .iter()
            .any(|d| d.media_type.as_str() == "application/pdf")
    );
    assert_eq!(shared.notes.len(), 1);
    assert_eq!(shared.appointments.len(), 1);
    assert_eq!(shared.messages.len(), 1);
    let owner = services
        .staff_caller(tenant.clone(), &issued.token, ClientInfo::default())
        .await
        .unwrap();
    let pending = services.pending_codes(&owner, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "Leo's code waits in the follow-up list");
    drop(app);

    // The second start finds it and prints nothing again.
    let mut again = Application::build(config(dir.path())).await.unwrap();
    assert!(again.take_demo_credentials().is_none());
    assert_eq!(again.services().list_tenants().await.unwrap().len(), 1);
}

#[tokio::test]
async fn production_mode_creates_no_demo_clinic() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = Application::build(Config {
        production: true,
        ..config(dir.path())
    })
    .await
    .unwrap();
    assert!(app.take_demo_credentials().is_none());
    assert!(app.services().list_tenants().await.unwrap().is_empty());
}
