//! The native API described: each [`Endpoint`] of router.rs's table carries its
//! method, path and handler together with the `core::api` types it takes and
//! answers, and [`document`] builds the OpenAPI 3.1 description from those types
//! (their `utoipa::ToSchema` derives), served at `GET /api/v1/openapi.json`. The
//! router and the description read the same table, so neither can list a route
//! the other lacks; `server/tests/openapi.rs` holds both to docs/API.md.

use std::sync::Arc;

use axum::Extension;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use granary_core::api::ErrorBody;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
    ResponseBuilder,
};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;

/// Schemas named in `#/components/schemas`, gathered while operations refer to them.
type Schemas = Vec<(String, RefOr<Schema>)>;

/// What a body is: JSON of a `core::api` type (or an array of one), or bytes.
#[derive(Clone, Copy)]
enum Body {
    Json(fn(&mut Schemas) -> RefOr<Schema>),
    Bytes(&'static str),
    Empty,
}

/// One route of the native API (paths relative to `/api/v1`).
pub struct Endpoint {
    pub method: Method,
    /// The axum path: `{name}` captures one segment, `{*name}` the rest.
    pub path: &'static str,
    pub summary: &'static str,
    pub handler: MethodRouter<AppState>,
    request: Option<Body>,
    query: Option<fn() -> Vec<utoipa::openapi::path::Parameter>>,
    responses: Vec<(StatusCode, Body)>,
}

macro_rules! constructor {
    ($name:ident, $method:ident) => {
        /// A route answering this method at `path`.
        pub fn $name<H, T>(path: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            Self::new(Method::$method, path, axum::routing::$name(handler))
        }
    };
}

impl Endpoint {
    fn new(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        Self {
            method,
            path,
            summary: "",
            handler,
            request: None,
            query: None,
            responses: Vec::new(),
        }
    }

    constructor!(get, GET);
    constructor!(post, POST);
    constructor!(put, PUT);
    constructor!(patch, PATCH);
    constructor!(delete, DELETE);

    /// What it does, in a few words.
    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    /// The request body is JSON of `B`.
    pub fn takes<B: ToSchema>(mut self) -> Self {
        self.request = Some(Body::Json(json::<B>));
        self
    }

    /// The request body is raw bytes.
    pub fn takes_bytes(mut self) -> Self {
        self.request = Some(Body::Bytes("application/octet-stream"));
        self
    }

    /// The query parameters are the fields of `Q`.
    pub fn query<Q: IntoParams>(mut self) -> Self {
        self.query = Some(|| Q::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// A success answers `status` with JSON of `R`.
    pub fn answers<R: ToSchema>(mut self, status: StatusCode) -> Self {
        self.responses.push((status, Body::Json(json::<R>)));
        self
    }

    /// A success answers `status` with a JSON array of `R`.
    pub fn answers_list<R: ToSchema>(mut self, status: StatusCode) -> Self {
        self.responses.push((status, Body::Json(json_array::<R>)));
        self
    }

    /// A success answers `status` with bytes of `content_type`.
    pub fn answers_bytes(mut self, status: StatusCode, content_type: &'static str) -> Self {
        self.responses.push((status, Body::Bytes(content_type)));
        self
    }

    /// A success answers `status` with no body.
    pub fn answers_nothing(mut self, status: StatusCode) -> Self {
        self.responses.push((status, Body::Empty));
        self
    }

    /// The same route with `f` applied to its handler (a layer).
    pub fn map_handler(
        mut self,
        f: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Self {
        self.handler = f(self.handler);
        self
    }

    /// The path as OpenAPI writes it, under `/api/v1`: `{*path}` becomes `{path}`.
    pub fn openapi_path(&self) -> String {
        format!("/api/v1{}", self.path.replace("{*", "{"))
    }

    fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|s| s.trim_start_matches('*'))
    }
}

/// A reference to `T`'s schema, registering it and every schema it names.
fn json<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    Ref::from_schema_name(T::name()).into()
}

fn json_array<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    ArrayBuilder::new().items(json::<T>(schemas)).into()
}

fn content(body: Body, schemas: &mut Schemas) -> Option<(&'static str, Content)> {
    match body {
        Body::Json(schema) => Some(("application/json", Content::new(Some(schema(schemas))))),
        Body::Bytes(kind) => Some((
            kind,
            Content::new(Some(ObjectBuilder::new().schema_type(Type::String).format(
                Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Binary,
                )),
            ))),
        )),
        Body::Empty => None,
    }
}

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// The OpenAPI description of `routes`.
pub fn document(routes: &[Endpoint]) -> OpenApi {
    let mut schemas = Schemas::new();
    let mut paths = PathsBuilder::new();
    let error = json::<ErrorBody>(&mut schemas);
    for route in routes {
        let mut op = OperationBuilder::new()
            .summary(Some(route.summary))
            .operation_id(Some(format!("{} {}", route.method, route.openapi_path())));
        for name in route.path_params() {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        if let Some(query) = route.query {
            op = op.parameters(Some(query()));
        }
        if let Some((kind, body)) = route.request.and_then(|b| content(b, &mut schemas)) {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(kind, body)
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        for (status, body) in &route.responses {
            let mut response =
                ResponseBuilder::new().description(status.canonical_reason().unwrap_or(""));
            if let Some((kind, body)) = content(*body, &mut schemas) {
                response = response.content(kind, body);
            }
            op = op.response(status.as_str(), response.build());
        }
        op = op.response(
            "default",
            ResponseBuilder::new()
                .description("an error: `{\"error\": sentence, \"code\": machine code}`")
                .content("application/json", Content::new(Some(error.clone())))
                .build(),
        );
        paths = paths.path(
            route.openapi_path(),
            PathItem::new(http_method(&route.method), op.build()),
        );
    }
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Granary native API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The API the `granary` CLI speaks; docs/API.md explains it. Send a token as \
                     `Authorization: Bearer <token>`.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .schemas_from_iter(schemas)
                .security_scheme(
                    "token",
                    SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
                )
                .build(),
        ))
        // A token, or none: reads of public models need none (docs/API.md, "Auth").
        .security(Some([
            SecurityRequirement::default(),
            SecurityRequirement::new("token", Vec::<String>::new()),
        ]))
        .build()
}

/// The description as served, made once when the router is built.
#[derive(Clone)]
pub struct Document(pub Arc<Vec<u8>>);

impl Document {
    pub fn new(routes: &[Endpoint]) -> Self {
        let json = document(routes)
            .to_pretty_json()
            .expect("an OpenAPI document always serialises");
        Self(Arc::new(json.into_bytes()))
    }
}

/// `GET /api/v1/openapi.json`: the description of this API, for anyone.
pub async fn get_openapi(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_ref().clone(),
    )
        .into_response()
}
