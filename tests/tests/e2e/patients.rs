//! Patient records and the portal-access switch.

use portico_tests::{
    PASSWORD, add_enabled_patient, add_patient, both_engines, expect_error, json_ok,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_engines! {
    async fn staff_create_find_change_and_archive_patient_records(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let body = expect_error(desk.post(&app, "/api/v1/patients", json!({
            "full_name": "Ada Lovelace", "date_of_birth": "1815-12-10",
        })).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_date_of_birth").await;
        assert_eq!(body["field"], "date_of_birth");

        let ada = add_patient(&app, &desk, "Ada Byron", "ada@example.org").await;
        add_patient(&app, &desk, "Grace Hopper", "grace@example.org").await;
        add_patient(&app, &desk, "Alan Turing", "alan@example.org").await;
        let shown = json_ok(desk.get(&app, &format!("/api/v1/patients/{ada}")).await).await;
        assert_eq!(shown["full_name"], "Ada Byron");
        assert_eq!(shown["date_of_birth"], "1980-05-17");
        assert_eq!(shown["home_zip"], "90210");
        assert_eq!(shown["portal_access"], "disabled", "access is off unless the clinic says otherwise");

        let found = json_ok(desk.get(&app, "/api/v1/patients?search=AdA").await).await;
        let names: Vec<_> = found["patients"].as_array().unwrap().iter().map(|p| p["full_name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["Ada Byron"]);
        // Wildcards typed by staff are taken literally.
        let none = json_ok(desk.get(&app, "/api/v1/patients?search=%25").await).await;
        assert!(none["patients"].as_array().unwrap().is_empty());
        // Paging.
        let first = json_ok(desk.get(&app, "/api/v1/patients?limit=2").await).await;
        assert_eq!(first["patients"].as_array().unwrap().len(), 2);
        let after = first["next_after"].as_str().unwrap().to_owned();
        let second = json_ok(app.client.get(app.tenant_url("north", "/api/v1/patients")).query(&[("limit", "2"), ("after", after.as_str())]).bearer_auth(&desk.token).send().await.unwrap()).await;
        let names: Vec<_> = second["patients"].as_array().unwrap().iter().map(|p| p["full_name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["Grace Hopper"]);

        let changed = json_ok(desk.patch(&app, &format!("/api/v1/patients/{ada}"), json!({"phone": "+1 555 010 0199", "home_zip": null})).await).await;
        assert_eq!(changed["phone"], "+1 555 010 0199");
        assert!(changed.get("home_zip").is_none(), "a cleared field is left out: {changed}");
        assert_eq!(changed["email"], "ada@example.org", "fields left out are kept");
        expect_error(desk.patch(&app, &format!("/api/v1/patients/{ada}"), json!({"phone": "call me maybe"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone").await;

        let resp = desk.send(&app, Method::DELETE, "north", &format!("/api/v1/patients/{ada}"), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        expect_error(desk.get(&app, &format!("/api/v1/patients/{ada}")).await, StatusCode::NOT_FOUND, "not_found").await;
        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{ada}")).await).await;
        let actions: Vec<_> = audit["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        assert_eq!(actions, ["patient.archive", "patient.update", "patient.create"]);
    }

    async fn portal_access_needs_an_email_and_a_zip_code(app) {
        let owner = app.clinic_with_owner("north").await;
        let id = json_ok(owner.post(&app, "/api/v1/patients", json!({"full_name": "No Contact", "date_of_birth": "1990-01-01"})).await).await["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/patients/{id}/portal-access");
        let body = expect_error(owner.put(&app, &path, json!({"enabled": true})).await, StatusCode::CONFLICT, "portal_requirements_missing").await;
        assert!(body["message"].as_str().unwrap().contains("email") && body["message"].as_str().unwrap().contains("zip"));
        json_ok(owner.patch(&app, &format!("/api/v1/patients/{id}"), json!({"email": "nc@example.org"})).await).await;
        expect_error(owner.put(&app, &path, json!({"enabled": true})).await, StatusCode::CONFLICT, "portal_requirements_missing").await;
        json_ok(owner.patch(&app, &format!("/api/v1/patients/{id}"), json!({"home_zip": "10001"})).await).await;
        assert_eq!(json_ok(owner.put(&app, &path, json!({"enabled": true})).await).await["portal_access"], "enabled");
        // While enabled, the record must keep what access depends on.
        expect_error(owner.patch(&app, &format!("/api/v1/patients/{id}"), json!({"home_zip": null})).await, StatusCode::CONFLICT, "portal_requirements_missing").await;
        assert_eq!(json_ok(owner.put(&app, &path, json!({"enabled": false})).await).await["portal_access"], "disabled");
        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{id}&action=patient.portal_access.enable")).await).await;
        assert_eq!(audit["events"].as_array().unwrap().len(), 1);
    }

    async fn a_clinic_can_enable_access_when_records_are_created(app) {
        let owner = app.clinic_with_owner("north").await;
        let settings = json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await;
        assert_eq!(settings["auto_enable_portal_access"], false);
        assert_eq!(settings["code_lifetime_hours"], 120);
        assert_eq!(settings["default_delivery"], "email");
        let changed = json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"auto_enable_portal_access": true, "code_lifetime_hours": 48})).await).await;
        assert_eq!(changed["auto_enable_portal_access"], true);
        assert_eq!(changed["code_lifetime_hours"], 48);
        let with_contact = add_patient(&app, &owner, "With Contact", "wc@example.org").await;
        let p = json_ok(owner.get(&app, &format!("/api/v1/patients/{with_contact}")).await).await;
        assert_eq!(p["portal_access"], "enabled");
        let without = json_ok(owner.post(&app, "/api/v1/patients", json!({"full_name": "No Zip", "date_of_birth": "1990-01-01", "email": "nz@example.org"})).await).await;
        assert_eq!(without["portal_access"], "disabled", "the rule still applies");

        expect_error(owner.patch(&app, "/api/v1/clinic/settings", json!({"code_lifetime_hours": 121})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code_lifetime").await;
        expect_error(owner.patch(&app, "/api/v1/clinic/settings", json!({"default_delivery": "pigeon"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        expect_error(desk.patch(&app, "/api/v1/clinic/settings", json!({"code_lifetime_hours": 24})).await, StatusCode::FORBIDDEN, "permission_denied").await;
        assert_eq!(json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await["code_lifetime_hours"], 48);
    }

    async fn changing_an_enabled_patients_email_needs_an_owner_or_admin_and_step_up(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let id = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let path = format!("/api/v1/patients/{id}");
        let new_email = json!({"email": "mia.wong@example.net"});

        expect_error(desk.patch(&app, &path, new_email.clone()).await, StatusCode::FORBIDDEN, "permission_denied").await;
        expect_error(owner.patch(&app, &path, new_email.clone()).await, StatusCode::FORBIDDEN, "step_up_required").await;
        assert_eq!(json_ok(owner.get(&app, &path).await).await["email"], "mia@example.org", "nothing changed");

        json_ok(owner.post(&app, "/api/v1/auth/step-up", json!({"password": PASSWORD})).await).await;
        assert_eq!(json_ok(owner.patch(&app, &path, new_email).await).await["email"], "mia.wong@example.net");

        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{id}&action=patient.email_change")).await).await;
        let outcomes: Vec<_> = audit["events"].as_array().unwrap().iter().map(|e| (e["outcome"].as_str().unwrap().to_owned(), e["reason"].as_str().unwrap_or("").to_owned())).collect();
        assert_eq!(outcomes, [
            ("success".to_owned(), "portal_enabled".to_owned()),
            ("denied".to_owned(), "step_up_required".to_owned()),
            ("denied".to_owned(), "permission_denied".to_owned()),
        ]);
        // The old address is told, through the outbox.
        let queued = json_ok(owner.get(&app, &format!("/api/v1/patients/{id}/mail")).await).await;
        let notices: Vec<_> = queued.as_array().unwrap().iter().filter(|m| m["kind"] == "email_change_notice").collect();
        assert_eq!(notices.len(), 1, "{queued}");
        assert_eq!(notices[0]["recipient"], "mia@example.org");

        // A patient without portal access: front desk may fix a typo.
        let other = add_patient(&app, &owner, "Tom Typo", "tom@exmaple.org").await;
        json_ok(desk.patch(&app, &format!("/api/v1/patients/{other}"), json!({"email": "tom@example.org"})).await).await;
    }

    async fn turning_access_off_is_no_side_door_to_a_patients_email(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let path_of = |id: &str| format!("/api/v1/patients/{id}");
        // A record whose portal was open, with no code ever issued; and one
        // whose code was cancelled by turning access off.
        let opened = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let coded = add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
        app.issue_code(&owner, &coded).await;
        for id in [&opened, &coded] {
            json_ok(desk.put(&app, &format!("{}/portal-access", path_of(id)), json!({"enabled": false})).await).await;
            expect_error(desk.patch(&app, &path_of(id), json!({"email": "attacker@example.net"})).await, StatusCode::FORBIDDEN, "permission_denied").await;
            assert_ne!(json_ok(owner.get(&app, &path_of(id)).await).await["email"], "attacker@example.net");
        }
        // The owner, with a fresh confirmation, may; the old address is told.
        owner.step_up(&app).await;
        json_ok(owner.patch(&app, &path_of(&opened), json!({"email": "mia.wong@example.net"})).await).await;
        let queued = json_ok(owner.get(&app, &format!("/api/v1/patients/{opened}/mail")).await).await;
        assert!(queued.as_array().unwrap().iter().any(|m| m["kind"] == "email_change_notice" && m["recipient"] == "mia@example.org"), "{queued}");
        // A record never tied to the portal: the desk fixes a typo freely.
        let fresh = portico_tests::add_patient(&app, &owner, "Tom Typo", "tom@exmaple.org").await;
        json_ok(desk.patch(&app, &path_of(&fresh), json!({"email": "tom@example.org"})).await).await;
    }

    async fn a_code_mailed_to_the_old_address_dies_when_staff_change_it(app) {
        let owner = app.clinic_with_owner("north").await;
        let id = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let change_email = |to: &'static str| {
            let owner = &owner;
            let app = &app;
            let path = format!("/api/v1/patients/{id}");
            async move {
                owner.step_up(app).await;
                json_ok(owner.patch(app, &path, json!({ "email": to })).await).await;
            }
        };
        let emailed = app.issue_code(&owner, &id).await;
        change_email("mia.wong@example.net").await;
        expect_error(app.redeem_new("north", &emailed, "mia@example.org", "a patient's passphrase").await, StatusCode::GONE, "code_revoked").await;
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{id}/access-codes")).await).await;
        assert!(codes.to_string().contains("email_changed"), "{codes}");
        let trail = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{id}&action=patient.email_change")).await).await;
        assert!(trail.to_string().contains("emailed_codes_cancelled=1"), "{trail}");
        let queued = json_ok(owner.get(&app, &format!("/api/v1/patients/{id}/mail")).await).await;
        let told: Vec<_> = queued.as_array().unwrap().iter().filter(|m| m["kind"] == "email_change_notice").map(|m| m["recipient"].as_str().unwrap().to_owned()).collect();
        assert_eq!(told, ["mia@example.org"], "the old address is told");

        // A code handed over on paper went to no address: it stays.
        owner.step_up(&app).await;
        let printed = json_ok(owner.post(&app, &format!("/api/v1/patients/{id}/access-codes"), json!({"delivery": "print"})).await).await["code"].as_str().unwrap().to_owned();
        change_email("mia@example.com").await;
        let resp = app.redeem_new("north", &printed, "mia@example.com", "a patient's passphrase").await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }

}
