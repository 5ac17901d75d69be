//! Staff accounts and the role model: built-in roles, a clinic's own
//! policies, and the cache that must follow every change.

use portico_tests::{FIRST_PASSWORD, PASSWORD, both_engines, expect_error, json_ok};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_engines! {
    async fn owners_add_staff_who_then_log_in_with_their_roles(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let me = json_ok(desk.get(&app, "/api/v1/auth/me").await).await;
        assert_eq!(me["roles"], json!(["front_desk"]));
        let list = json_ok(owner.get(&app, "/api/v1/staff").await).await;
        let emails: Vec<_> = list.as_array().unwrap().iter().map(|s| s["email"].as_str().unwrap().to_owned()).collect();
        assert_eq!(emails, ["desk@north.example.org", "owner@north.example.org"]);
        let shown = json_ok(owner.get(&app, &format!("/api/v1/staff/{}", desk.id)).await).await;
        assert_eq!(shown["email"], "desk@north.example.org");
        // Anyone may read their own record.
        json_ok(desk.get(&app, &format!("/api/v1/staff/{}", desk.id)).await).await;
        expect_error(owner.get(&app, "/api/v1/staff/not-a-uuid").await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(owner.get(&app, &format!("/api/v1/staff/{}", uuid::Uuid::now_v7())).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn a_first_password_from_a_colleague_opens_nothing_but_its_own_change(app) {
        let owner = app.clinic_with_owner("north").await;
        let created = json_ok(owner.post(&app, "/api/v1/staff", json!({
            "email": "new@north.example.org", "display_name": "Noor", "password": FIRST_PASSWORD, "roles": ["front_desk"],
        })).await).await;
        assert_eq!(created["must_change_password"], true);
        let noor = app.login_bearer("north", "new@north.example.org", FIRST_PASSWORD).await;
        let refused = expect_error(noor.get(&app, "/api/v1/patients").await, StatusCode::FORBIDDEN, "password_change_required").await;
        assert!(refused["message"].as_str().unwrap().contains("choose your own password"), "{refused}");
        // Their own account stays open: who they are, and the change itself.
        let me = json_ok(noor.get(&app, "/api/v1/auth/me").await).await;
        assert_eq!(me["staff"]["must_change_password"], true);
        let same = noor.post(&app, "/api/v1/auth/password", json!({"current_password": FIRST_PASSWORD, "new_password": FIRST_PASSWORD})).await;
        assert_eq!(same.status(), StatusCode::CONFLICT, "the given password is not their own");
        let changed = noor.post(&app, "/api/v1/auth/password", json!({"current_password": FIRST_PASSWORD, "new_password": PASSWORD})).await;
        assert!(changed.status().is_success());
        json_ok(noor.get(&app, "/api/v1/patients").await).await;
        let me = json_ok(noor.get(&app, "/api/v1/auth/me").await).await;
        assert_eq!(me["staff"]["must_change_password"], false);
        // The refusal is in the trail, with the client's address.
        let trail = json_ok(owner.get(&app, "/api/v1/audit?outcome=denied").await).await;
        let denied: Vec<_> = trail["events"].as_array().unwrap().iter()
            .filter(|e| e["reason"] == "password_change_required").collect();
        assert!(!denied.is_empty() && denied.iter().all(|e| e["ip"].is_string()), "{trail}");
        // The clinic's first owner, set up by an operator, keeps theirs.
        let me = json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        assert_eq!(me["staff"]["must_change_password"], false);
    }

    async fn a_staff_member_is_deactivated_and_reactivated(app) {
        let owner = app.clinic_with_owner("north").await;
        let admin = app.add_staff(&owner, "admin@north.example.org", &["admin"]).await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        // The desk cannot; an admin can, and the desk is out at once.
        expect_error(desk.post(&app, &format!("/api/v1/staff/{}/deactivate", admin.id), json!({})).await, StatusCode::FORBIDDEN, "permission_denied").await;
        let off = json_ok(admin.post(&app, &format!("/api/v1/staff/{}/deactivate", desk.id), json!({})).await).await;
        assert_eq!(off["status"], "disabled");
        expect_error(desk.get(&app, "/api/v1/auth/me").await, StatusCode::UNAUTHORIZED, "invalid_session").await;
        expect_error(app.try_login("north", "/api/v1/auth/tokens", "desk@north.example.org", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        expect_error(admin.post(&app, &format!("/api/v1/staff/{}/deactivate", desk.id), json!({})).await, StatusCode::CONFLICT, "unchanged").await;
        // Nobody deactivates themselves, an admin no owner, and the last owner stays.
        expect_error(admin.post(&app, &format!("/api/v1/staff/{}/deactivate", admin.id), json!({})).await, StatusCode::CONFLICT, "own_account").await;
        expect_error(admin.post(&app, &format!("/api/v1/staff/{}/deactivate", owner.id), json!({})).await, StatusCode::FORBIDDEN, "not_allowed").await;
        let second = app.add_staff(&owner, "second@north.example.org", &["owner"]).await;
        json_ok(second.post(&app, &format!("/api/v1/staff/{}/deactivate", owner.id), json!({})).await).await;
        json_ok(app.client.post(app.tenant_url("north", "/api/v1/auth/tokens")).json(&json!({"email": "second@north.example.org", "password": PASSWORD})).send().await.unwrap()).await;
        let reactivated = json_ok(second.post(&app, &format!("/api/v1/staff/{}/reactivate", desk.id), json!({})).await).await;
        assert_eq!(reactivated["status"], "active");
        app.login_bearer("north", "desk@north.example.org", PASSWORD).await;
        // With the first owner out, the second is the last active one... and
        // cannot be deactivated by anyone, not even another admin.
        expect_error(admin.post(&app, &format!("/api/v1/staff/{}/deactivate", second.id), json!({})).await, StatusCode::FORBIDDEN, "not_allowed").await;
        // Nor can the last active owner give the role up while a
        // deactivated owner still holds it.
        expect_error(second.send(&app, Method::DELETE, "north", &format!("/api/v1/roles/assignments/{}/owner", second.id), None).await, StatusCode::CONFLICT, "last_owner").await;
        // The deactivated owner's role can go.
        json_ok(second.send(&app, Method::DELETE, "north", &format!("/api/v1/roles/assignments/{}/owner", owner.id), None).await).await;
        let trail = json_ok(second.get(&app, "/api/v1/audit?action=staff.deactivate").await).await;
        assert_eq!(trail["events"].as_array().unwrap().iter().filter(|e| e["outcome"] == "success").count(), 2, "{trail}");
    }

    async fn staff_emails_are_unique_per_clinic_ignoring_case(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        expect_error(
            owner.post(&app, "/api/v1/staff", json!({"email": "Desk@North.example.org", "display_name": "Again", "password": PASSWORD, "roles": []})).await,
            StatusCode::CONFLICT,
            "email_taken",
        ).await;
        // The same address may work at another clinic.
        let south = app.clinic_with_owner("south").await;
        app.add_staff(&south, "desk@north.example.org", &["front_desk"]).await;
    }

    async fn each_built_in_role_gets_exactly_its_permissions(app) {
        let owner = app.clinic_with_owner("north").await;
        let admin = app.add_staff(&owner, "admin@north.example.org", &["admin"]).await;
        let doctor = app.add_staff(&owner, "doc@north.example.org", &["practitioner"]).await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let auditor = app.add_staff(&owner, "audit@north.example.org", &["auditor"]).await;
        let nobody = app.add_staff(&owner, "none@north.example.org", &[]).await;

        let cases = [
            (&admin, "/api/v1/audit", StatusCode::OK),
            (&admin, "/api/v1/roles/policies", StatusCode::OK),
            (&doctor, "/api/v1/staff", StatusCode::OK),
            (&doctor, "/api/v1/audit", StatusCode::FORBIDDEN),
            (&desk, "/api/v1/roles/assignments", StatusCode::FORBIDDEN),
            (&auditor, "/api/v1/audit", StatusCode::OK),
            (&auditor, "/api/v1/roles/assignments", StatusCode::OK),
            (&nobody, "/api/v1/staff", StatusCode::FORBIDDEN),
            (&nobody, "/api/v1/clinic", StatusCode::FORBIDDEN),
            (&desk, "/api/v1/clinic", StatusCode::OK),
        ];
        for (who, path, status) in cases {
            let resp = who.get(&app, path).await;
            assert_eq!(resp.status(), status, "{} GET {path}", who.email);
        }
        // Only those with staff:write may add staff.
        for who in [&doctor, &desk, &auditor] {
            expect_error(
                who.post(&app, "/api/v1/staff", json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD, "roles": []})).await,
                StatusCode::FORBIDDEN,
                "permission_denied",
            ).await;
        }
        app.add_staff(&admin, "second-desk@north.example.org", &["front_desk"]).await;
    }

    async fn a_clinic_grants_a_role_more_and_the_change_takes_effect_at_once(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        expect_error(desk.get(&app, "/api/v1/audit").await, StatusCode::FORBIDDEN, "permission_denied").await;
        let added = json_ok(owner.post(&app, "/api/v1/roles/policies", json!({"role": "front_desk", "resource": "audit", "action": "read"})).await).await;
        assert_eq!(added["changed"], true);
        json_ok(desk.get(&app, "/api/v1/audit").await).await;
        let policies = json_ok(owner.get(&app, "/api/v1/roles/policies").await).await;
        let custom: Vec<_> = policies.as_array().unwrap().iter().filter(|p| p["builtin"] == false).collect();
        assert_eq!(custom.len(), 1);
        assert_eq!(custom[0]["role"], "front_desk");
        let resp = owner.send(&app, Method::DELETE, "north", "/api/v1/roles/policies/front_desk/audit/read", None).await;
        json_ok(resp).await;
        expect_error(desk.get(&app, "/api/v1/audit").await, StatusCode::FORBIDDEN, "permission_denied").await;
        expect_error(
            owner.send(&app, Method::DELETE, "north", "/api/v1/roles/policies/front_desk/audit/read", None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ).await;
        expect_error(
            owner.send(&app, Method::DELETE, "north", "/api/v1/roles/policies/auditor/audit/read", None).await,
            StatusCode::CONFLICT,
            "builtin_policy",
        ).await;
        expect_error(
            owner.post(&app, "/api/v1/roles/policies", json!({"role": "front_desk", "resource": "spaceships", "action": "read"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_resource",
        ).await;
        expect_error(
            owner.post(&app, "/api/v1/roles/policies", json!({"role": "front_desk", "resource": "audit", "action": "fly"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_action",
        ).await;
    }

    async fn a_clinic_can_define_its_own_role(app) {
        let owner = app.clinic_with_owner("north").await;
        let clerk = app.add_staff(&owner, "clerk@north.example.org", &["billing_clerk"]).await;
        expect_error(clerk.get(&app, "/api/v1/staff").await, StatusCode::FORBIDDEN, "permission_denied").await;
        json_ok(owner.post(&app, "/api/v1/roles/policies", json!({"role": "billing_clerk", "resource": "staff", "action": "read"})).await).await;
        json_ok(clerk.get(&app, "/api/v1/staff").await).await;
    }

    async fn role_assignments_change_and_the_owner_role_is_guarded(app) {
        let owner = app.clinic_with_owner("north").await;
        let admin = app.add_staff(&owner, "admin@north.example.org", &["admin"]).await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;

        // An admin cannot make anyone (themselves included) an owner.
        expect_error(
            admin.send(&app, Method::PUT, "north", &format!("/api/v1/roles/assignments/{}/owner", admin.id), None).await,
            StatusCode::FORBIDDEN,
            "not_allowed",
        ).await;
        expect_error(
            admin.send(&app, Method::DELETE, "north", &format!("/api/v1/roles/assignments/{}/owner", owner.id), None).await,
            StatusCode::FORBIDDEN,
            "not_allowed",
        ).await;
        // An admin may give other roles; it takes effect on the next request.
        expect_error(desk.get(&app, "/api/v1/audit").await, StatusCode::FORBIDDEN, "permission_denied").await;
        json_ok(admin.send(&app, Method::PUT, "north", &format!("/api/v1/roles/assignments/{}/auditor", desk.id), None).await).await;
        json_ok(desk.get(&app, "/api/v1/audit").await).await;
        let list = json_ok(owner.get(&app, "/api/v1/roles/assignments").await).await;
        let desk_roles: Vec<_> = list.as_array().unwrap().iter().filter(|a| a["staff_id"] == desk.id.as_str()).map(|a| a["role"].as_str().unwrap().to_owned()).collect();
        assert_eq!(desk_roles.len(), 2);
        json_ok(admin.send(&app, Method::DELETE, "north", &format!("/api/v1/roles/assignments/{}/auditor", desk.id), None).await).await;
        expect_error(desk.get(&app, "/api/v1/audit").await, StatusCode::FORBIDDEN, "permission_denied").await;

        // The last owner keeps the role; with a second owner it can go.
        expect_error(
            owner.send(&app, Method::DELETE, "north", &format!("/api/v1/roles/assignments/{}/owner", owner.id), None).await,
            StatusCode::CONFLICT,
            "last_owner",
        ).await;
        json_ok(owner.send(&app, Method::PUT, "north", &format!("/api/v1/roles/assignments/{}/owner", admin.id), None).await).await;
        json_ok(admin.send(&app, Method::DELETE, "north", &format!("/api/v1/roles/assignments/{}/owner", owner.id), None).await).await;
        expect_error(
            admin.send(&app, Method::PUT, "north", &format!("/api/v1/roles/assignments/{}/Bad Role", desk.id), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_role",
        ).await;
        expect_error(
            admin.send(&app, Method::PUT, "north", &format!("/api/v1/roles/assignments/{}/auditor", uuid::Uuid::now_v7()), None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        ).await;
    }
}
