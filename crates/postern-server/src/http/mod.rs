//! HTTP plumbing shared by every route: request ids, client addresses, cookies, anti-forgery
//! checks, strict form parsing and the two ways an error is shown (OAuth JSON and HTML pages).

pub mod cookies;
pub mod csrf;
pub mod errors;
pub mod forms;
pub mod request_id;

pub use request_id::{ClientInfo, RequestId};
