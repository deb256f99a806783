//! The Workers runtime side (wasm32 only): read the request, run [`Edge`], `fetch` the origin, write
//! the answer. Every decision is made by the plain-Rust modules; this file only moves bytes.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{
    console_error, console_warn, event, AbortController, Context, Date, Delay, Env, Fetch, Headers,
    Method, Request, RequestInit, Response, Result,
};

use footfall_ingest::Endpoint;

use crate::answer::Answer;
use crate::edge::{Edge, EdgeRequest, Route, Step};
use crate::geo::CfProperties;
use crate::origin::{client_answer, OriginReply};
use crate::EdgeConfig;

thread_local! {
    /// Built from the vars on the first request of an isolate; a new deployment is a new isolate.
    static EDGE: RefCell<Option<Rc<Edge>>> = const { RefCell::new(None) };
}

fn edge(env: &Env) -> std::result::Result<Rc<Edge>, String> {
    if let Some(edge) = EDGE.with(|e| e.borrow().clone()) {
        return Ok(edge);
    }
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let config = EdgeConfig::from_vars(var).map_err(|e| e.to_string())?;
    let edge = Rc::new(Edge::new(config));
    EDGE.with(|e| *e.borrow_mut() = Some(edge.clone()));
    Ok(edge)
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let answer = match edge(&env) {
        Ok(edge) => serve(&edge, &mut req).await,
        Err(problem) => {
            console_error!("footfall edge worker misconfigured: {problem}");
            // Retryable, so that clients keep their events until the deployment is fixed.
            Answer::unavailable(
                "the edge collector is misconfigured; the operator has been told",
                Duration::from_secs(30),
            )
        }
    };
    respond(answer.with_cors())
}

fn respond(answer: Answer) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(answer.body)?
        .with_status(answer.status)
        .with_headers(headers))
}

/// The query's `writeKey`, as RudderStack's SDKs send it to `/sourceConfig/` and from their beacon.
fn query_write_key(req: &Request) -> Option<String> {
    let url = req.url().ok()?;
    url.query_pairs()
        .find(|(name, _)| name == "writeKey")
        .map(|(_, value)| value.into_owned())
        .filter(|key| !key.is_empty())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// `request.cf`, read as plain data; absent outside Cloudflare's network (tests, other runtimes).
fn cf_properties(req: &Request) -> Option<CfProperties> {
    let cf = js_sys_get(req.inner().as_ref(), "cf")?;
    serde_wasm_bindgen::from_value(cf).ok()
}

fn js_sys_get(
    object: &worker::wasm_bindgen::JsValue,
    key: &str,
) -> Option<worker::wasm_bindgen::JsValue> {
    let value = worker::js_sys::Reflect::get(object, &key.into()).ok()?;
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

async fn serve(edge: &Edge, req: &mut Request) -> Answer {
    let method = req.method().to_string();
    let endpoint = match edge.route(&method, &req.path()) {
        Route::Preflight => {
            let requested = header(req, "access-control-request-headers");
            return Answer::preflight(requested.as_deref());
        }
        Route::Health => return Answer::json(200, &serde_json::json!({"status": "ok"})),
        Route::SourceConfig => {
            let authorization = header(req, "authorization");
            return edge.source_config(query_write_key(req).as_deref(), authorization.as_deref());
        }
        Route::SourceSettings(write_key) => {
            let Ok(url) = req.url() else {
                return Answer::not_found();
            };
            let host = match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => return Answer::not_found(),
            };
            return edge.source_settings(&write_key, url.scheme(), &host);
        }
        Route::NotFound => return Answer::not_found(),
        Route::MethodNotAllowed => return Answer::method_not_allowed(),
        Route::Pixel(kind) => {
            return pixel(edge, req, kind, footfall_ingest::pixel::message).await;
        }
        Route::ParameterPixel(kind) => {
            return pixel(
                edge,
                req,
                kind,
                footfall_ingest::pixel::message_of_parameters,
            )
            .await;
        }
        Route::Api(endpoint) => endpoint,
    };
    if let Some(answer) = Edge::too_large(header(req, "content-length").as_deref()) {
        return answer;
    }
    let body = match req.bytes().await {
        Ok(body) => body,
        Err(e) => {
            return Answer::error(
                400,
                footfall_protocol::ErrorCode::InvalidRequest,
                format!("the request body could not be read: {e}"),
                None,
            )
        }
    };
    ingest_body(edge, req, endpoint, body).await
}

/// One message sent as an image, read from the query by `read`: a transparent GIF once the origin
/// stored it, the usual error otherwise.
async fn pixel(
    edge: &Edge,
    req: &Request,
    kind: footfall_protocol::MessageType,
    read: fn(Option<&str>) -> std::result::Result<Vec<u8>, footfall_ingest::IngestError>,
) -> Answer {
    let query = req
        .url()
        .ok()
        .and_then(|url| url.query().map(str::to_owned));
    let message = match read(query.as_deref()) {
        Ok(message) => message,
        Err(e) => return Answer::error(e.status(), e.code(), e.to_string(), None),
    };
    let answer = ingest_body(edge, req, Endpoint::Single(kind), message).await;
    if answer.status == 200 {
        Answer::gif()
    } else {
        answer
    }
}

/// Runs the pipeline over `body` and forwards what it accepted to the origin.
async fn ingest_body(edge: &Edge, req: &Request, endpoint: Endpoint, body: Vec<u8>) -> Answer {
    let (authorization, encoding, user_agent, connecting_ip) = (
        // RudderStack's beacon (`sendBeacon` sets no header) sends the key as `?writeKey=`.
        header(req, "authorization").or_else(|| {
            query_write_key(req).map(|key| footfall_protocol::auth::basic_authorization(&key))
        }),
        header(req, "content-encoding"),
        header(req, "user-agent"),
        header(req, "cf-connecting-ip"),
    );
    let geo = cf_properties(req).and_then(|cf| cf.geo());
    let request = EdgeRequest {
        authorization: authorization.as_deref(),
        content_encoding: encoding.as_deref(),
        user_agent: user_agent.as_deref(),
        connecting_ip: connecting_ip.as_deref(),
        geo: geo.as_ref(),
        body: &body,
        now: Duration::from_millis(Date::now().as_millis()),
    };
    match edge.ingest(endpoint, &request) {
        Step::Answer(answer) => answer,
        Step::Forward(forward) => {
            let reply = post_to_origin(edge, forward.body).await;
            if let OriginReply::Unreachable(reason) = &reply {
                console_warn!("origin unreachable, answering 503: {reason}");
            }
            client_answer(forward.pending, reply, edge.config.retry_after)
        }
    }
}

async fn post_to_origin(edge: &Edge, body: Vec<u8>) -> OriginReply {
    match try_post(edge, body).await {
        Ok(reply) => reply,
        Err(e) => OriginReply::Unreachable(e.to_string()),
    }
}

async fn try_post(edge: &Edge, body: Vec<u8>) -> Result<OriginReply> {
    let config = &edge.config;
    let url = format!(
        "{}{}",
        config.origin_url,
        footfall_ingest::relay::RELAY_PATH
    );
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("content-encoding", "gzip")?;
    headers.set("authorization", &format!("Bearer {}", config.origin_secret))?;
    let array = worker::js_sys::Uint8Array::from(body.as_slice());
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(array.into()));
    let request = Request::new_with_init(&url, &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sent = Box::pin(async move {
        let mut response = fetch.send_with_signal(&signal).await?;
        let status = response.status_code();
        let retry_after = response.headers().get("retry-after").ok().flatten();
        let body = response.bytes().await?;
        Ok::<_, worker::Error>(OriginReply::Answered {
            status,
            retry_after,
            body,
        })
    });
    let timeout = Delay::from(config.origin_timeout);
    match select(sent, timeout).await {
        Either::Left((reply, _)) => reply,
        Either::Right(((), _)) => {
            controller.abort();
            Ok(OriginReply::Unreachable(format!(
                "no answer within {} ms",
                config.origin_timeout.as_millis()
            )))
        }
    }
}
