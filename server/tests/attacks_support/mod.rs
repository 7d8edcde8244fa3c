//! What the attack corpora (`attacks_limits.rs`, `attacks_sessions.rs`) share:
//! the error-shape check and a browser that signs in through the forms.

use granary_server::db::users;
use reqwest::Client;
use reqwest::header::SET_COOKIE;

use super::common::TestApp;
pub use super::common::client_error;

/// A client that does not follow redirects (sign-in answers 303).
pub fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the response's Set-Cookie for `name`, and the whole header.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    let full = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))?
        .to_string();
    Some((full.split(';').next().unwrap().to_string(), full))
}

/// The hidden CSRF field of a form page.
pub fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..i + 64].to_string()
}

pub async fn with_password(t: &TestApp, name: &str, password: &str) {
    let user = users::ensure(&t.app.db, name, false, granary_core::time::now_ms())
        .await
        .unwrap();
    users::set_password(
        &t.app.db,
        &user.id,
        &granary_server::passwords::hash(password).unwrap(),
    )
    .await
    .unwrap();
}
