//! The checked-in docs/openapi.json is what the server serves at
//! /openapi.json. After changing the API, regenerate it with
//! `LINERATE_BLESS=1 cargo test -p linerate-server --test openapi`.

mod common;

use common::{client, TestServer};

#[test]
fn the_checked_in_openapi_document_is_the_one_served() {
    let server = TestServer::start();
    let response = client()
        .get(server.url("/openapi.json"))
        .send()
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().expect("text");
    let document: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(document["info"]["title"], "linerate");
    for path in [
        "/scenarios",
        "/runs",
        "/runs/{id}/events",
        "/runs/{id}/streams/{name}/stop",
        "/metrics",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    if std::env::var_os("LINERATE_BLESS").is_some() {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == served,
        "docs/openapi.json differs from what the server serves; regenerate it: LINERATE_BLESS=1 cargo test -p linerate-server --test openapi"
    );
}
