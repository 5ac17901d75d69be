//! A JSON request body that tells malformed JSON apart from well-formed JSON
//! with wrong contents, names the field at fault in plain words
//! ([`input_errors`](crate::input_errors)), and enforces the body size limit
//! while reading (a chunked body has no Content-Length to check up front).

use poem::{Request, RequestBody};
use poem_openapi::ApiExtractor;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};

use crate::AppState;
use crate::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(m) if m.type_() == "application"
            && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let limit = request
            .data::<AppState>()
            .map(|s| s.settings.max_body_bytes)
            .unwrap_or(1024 * 1024);
        let bytes = body
            .take()?
            .into_bytes_limit(limit)
            .await
            .map_err(|err| match err {
                poem::error::ReadBodyError::PayloadTooLarge => ApiError::new(
                    poem::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body must be at most {limit} bytes"),
                ),
                _ => ApiError::bad_request("unreadable_body", "the request body could not be read"),
            })?;
        if bytes.is_empty() {
            return Err(
                ApiError::bad_request("missing_body", "this request needs a JSON body").into(),
            );
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|err| {
            // Where it broke, not the parser's words (they can quote the
            // body); a JSON body must also be UTF-8.
            let what = match err.classify() {
                serde_json::error::Category::Eof => "it ends too early",
                _ => "something is wrong",
            };
            ApiError::bad_request(
                "malformed_json",
                format!(
                    "the body is not valid JSON (UTF-8 text): {what} at line {}, column {}",
                    err.line(),
                    err.column()
                ),
            )
        })?;
        let parsed = T::parse_from_json(Some(value)).map_err(|err| {
            // Read again (it parsed a moment ago) to find the field at fault.
            let value = serde_json::from_slice(&bytes).unwrap_or_default();
            ApiError::from(crate::input_errors::explain_body::<T>(
                &value,
                err.message(),
            ))
        })?;
        Ok(Self(parsed))
    }
}

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [poem_openapi::ApiExtractorType] =
        &[poem_openapi::ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<poem_openapi::registry::MetaRequest> {
        Some(poem_openapi::registry::MetaRequest {
            description: None,
            content: vec![poem_openapi::registry::MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: poem_openapi::ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if <Self as Payload>::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            _ => Err(ApiError::new(
                poem::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            )
            .into()),
        }
    }
}
