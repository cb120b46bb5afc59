use crate::helpers::spawn_app;

#[tokio::test]
async fn liveness_answers_ok_without_the_database() {
    let app = spawn_app().await;
    let response = app.get("/health/live").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readiness_reports_the_database_in_use() {
    let app = spawn_app().await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let expected =
        if std::env::var("IKZ_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) { "PostgreSQL" } else { "SQLite" };
    assert_eq!(body["database"], expected);
}

#[tokio::test]
async fn responses_carry_nosniff() {
    let app = spawn_app().await;
    let response = app.get("/health/live").await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}
