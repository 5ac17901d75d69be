//! Refuses request bodies over the configured size, whether or not the
//! client declared a length. (poem's own `SizeLimit` also refuses requests
//! that send no `Content-Length`, which includes every plain GET.)

use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};

use crate::error::ApiError;

pub struct BodyLimit {
    pub max_bytes: usize,
    /// Plugin uploads (`POST .../api/v1/plugins`, or the console's form)
    /// carry a component and may be larger.
    pub max_upload_bytes: usize,
    /// Files given to a record (`POST .../documents`, `.../messages`, from
    /// the API or a page) may be as large as a document is allowed to be.
    pub max_file_bytes: usize,
}

/// Room for a multipart envelope and the form's other fields around a file.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            max_bytes: self.max_bytes,
            max_upload_bytes: self.max_upload_bytes.max(self.max_bytes),
            max_file_bytes: (self.max_file_bytes + MULTIPART_OVERHEAD).max(self.max_bytes),
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
    max_upload_bytes: usize,
    max_file_bytes: usize,
}

impl<E> BodyLimitEndpoint<E> {
    fn limit_for(&self, req: &Request) -> usize {
        if req.method() != poem::http::Method::POST {
            return self.max_bytes;
        }
        let path = req.uri().path();
        if path.ends_with("/api/v1/plugins") || path.ends_with("/console/plugins") {
            self.max_upload_bytes
        } else if path.ends_with("/documents") || path.ends_with("/messages") {
            self.max_file_bytes
        } else {
            self.max_bytes
        }
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body must be at most {max} bytes"),
    )
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let max = self.limit_for(&req);
        let declared = req
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(len) if len > max as u64 => {
                return Err(too_large(max).into());
            }
            Some(_) => {}
            None if req.header("transfer-encoding").is_some() => {
                // A streamed body: read it up to the limit now, so no
                // extractor downstream can be made to buffer more.
                let bytes = req
                    .take_body()
                    .into_bytes_limit(max)
                    .await
                    .map_err(|_| too_large(max))?;
                req.set_body(Body::from_bytes(bytes));
            }
            None => {}
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
