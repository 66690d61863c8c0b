//! One small signed client for the AWS JSON protocol, which is all the four services the
//! runtime calls speak (Step Functions, SSM, CodePipeline, DynamoDB): `POST /` with
//! `X-Amz-Target: <prefix>.<Operation>`, a JSON body, SigV4 (`aws-sigv4`, AWS's own signer)
//! and errors as `{"__type": …, "message": …}`.
//!
//! It replaces the AWS SDK crates in the Lambda binaries: the SDK's generated code for four
//! services was most of a 16 MB binary whose mapped pages were most of the resident set
//! (docs/bench-runtime.md). Settings come from the Lambda environment only (`AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>`), which is where Lambda puts them. Left out: the rest of the
//! SDK credential chain (profiles, SSO, IMDS), HTTP/2, request compression, CRC checks.
//!
//! Nothing here logs, and no error text carries a request body, a response body that is not
//! an AWS error message, or a credential. Tests: the unit tests below (error parsing, retry
//! classes, endpoints, request shape against a local socket) and `tests/moto.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// No answer the runtime reads comes near this (a full `GetAutomationExecution` is tens of KB).
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// One attempt (connect, send, read the whole answer); the SDK had no read timeout at all.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// As the SDK's default (3.1 s); a failed connect is retried.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
const USER_AGENT_VALUE: &str = concat!("approvalc-runtime/", env!("CARGO_PKG_VERSION"));

/// The services the runtime calls, with what the JSON protocol needs to address each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    StepFunctions,
    Ssm,
    CodePipeline,
    DynamoDb,
}

impl Service {
    const ALL: [Service; 4] = [
        Service::StepFunctions,
        Service::Ssm,
        Service::CodePipeline,
        Service::DynamoDb,
    ];

    /// SigV4 service name, also the endpoint prefix (`states.us-east-1.amazonaws.com`).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::StepFunctions => "states",
            Service::Ssm => "ssm",
            Service::CodePipeline => "codepipeline",
            Service::DynamoDb => "dynamodb",
        }
    }

    fn target_prefix(self) -> &'static str {
        match self {
            Service::StepFunctions => "AWSStepFunctions",
            Service::Ssm => "AmazonSSM",
            Service::CodePipeline => "CodePipeline_20150709",
            Service::DynamoDb => "DynamoDB_20120810",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Service::StepFunctions | Service::DynamoDb => "application/x-amz-json-1.0",
            Service::Ssm | Service::CodePipeline => "application/x-amz-json-1.1",
        }
    }

    /// The SDKs' service-specific override (`AWS_ENDPOINT_URL_SFN`, …).
    fn endpoint_env(self) -> &'static str {
        match self {
            Service::StepFunctions => "AWS_ENDPOINT_URL_SFN",
            Service::Ssm => "AWS_ENDPOINT_URL_SSM",
            Service::CodePipeline => "AWS_ENDPOINT_URL_CODEPIPELINE",
            Service::DynamoDb => "AWS_ENDPOINT_URL_DYNAMODB",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a call failed. `Display` names the operation; it never includes a request body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {kind}")]
pub struct ApiError {
    pub operation: &'static str,
    pub kind: ApiErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiErrorKind {
    /// The service answered with an error (`code` is the `__type` without its namespace).
    #[error("{code}: {message} (HTTP {status})")]
    Service {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer: connect, I/O or timeout.
    #[error("no answer: {0}")]
    Transport(String),
    /// A 2xx answer that is not the JSON expected (position only, never the content).
    #[error("unreadable answer: {0}")]
    Response(String),
    /// The request could not be built or signed.
    #[error("request not sent: {0}")]
    Request(String),
}

/// Error codes the SDKs retry as throttling or transient (aws-smithy's retry classifiers).
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
];

impl ApiError {
    /// The service's error code, when the service answered.
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            ApiErrorKind::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Throttling, 5xx and lost connections are retried; everything else is an answer.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ApiErrorKind::Service { status, code, .. } => {
                *status >= 500 || RETRYABLE_CODES.contains(&code.as_str())
            }
            ApiErrorKind::Transport(_) => true,
            ApiErrorKind::Response(_) | ApiErrorKind::Request(_) => false,
        }
    }
}

/// The error of a non-2xx answer. The code comes from `X-Amzn-ErrorType`, else `__type`
/// (else `code`), cut to the shape name: `aws.protocoltests#FooError:http://…` → `FooError`.
/// A body that is not an AWS error is not quoted (it could echo anything).
pub fn parse_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> ApiErrorKind {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| json.get(*n).and_then(|v| v.as_str()))
            .map(str::to_owned)
    };
    let raw = error_type_header
        .map(str::to_owned)
        .or_else(|| field(&["__type", "code", "Code"]));
    let code = raw
        .as_deref()
        .map(shape_name)
        .filter(|c| !c.is_empty())
        .unwrap_or("UnknownError")
        .to_owned();
    let message = field(&["message", "Message", "errorMessage"])
        .unwrap_or_else(|| format!("HTTP {status} without an AWS error message"));
    ApiErrorKind::Service {
        status,
        code,
        message,
    }
}

fn shape_name(raw: &str) -> &str {
    let before_colon = raw.split(':').next().unwrap_or(raw);
    before_colon
        .rsplit('#')
        .next()
        .unwrap_or(before_colon)
        .trim()
}

/// Region, credentials and endpoint overrides, as Lambda's environment gives them.
#[derive(Clone)]
pub struct Settings {
    pub region: String,
    pub credentials: Credentials,
    /// `AWS_ENDPOINT_URL`: every service at this URL (emulators, the benchmark).
    pub endpoint: Option<String>,
    /// `AWS_ENDPOINT_URL_<SERVICE>`, in [`Service`] order.
    pub service_endpoints: [Option<String>; 4],
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Credentials`' own Debug redacts the secret; the key id is left out too.
        f.debug_struct("Settings")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("service_endpoints", &self.service_endpoints)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// From any variable lookup (tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or("AWS_REGION is not set")?;
        let key = var("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?;
        let secret = var("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?;
        Ok(Self {
            region,
            credentials: Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "env"),
            endpoint: var("AWS_ENDPOINT_URL"),
            service_endpoints: Service::ALL.map(|s| var(s.endpoint_env())),
        })
    }

    /// Fixed settings (tests, emulators).
    pub fn fixed(region: &str, key: &str, secret: &str, endpoint: Option<&str>) -> Self {
        Self {
            region: region.to_owned(),
            credentials: Credentials::new(key, secret, None, None, "fixed"),
            endpoint: endpoint.map(str::to_owned),
            service_endpoints: Default::default(),
        }
    }

    /// The URL a service's calls go to: its own override, the global one, or AWS.
    fn endpoint_for(&self, service: Service) -> Result<Uri, String> {
        let url = match (&self.service_endpoints[service.index()], &self.endpoint) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let suffix = if self.region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!(
                    "https://{}.{}.{suffix}/",
                    service.signing_name(),
                    self.region
                )
            }
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| format!("endpoint for {} is not a URL", service.signing_name()))?;
        match (uri.scheme_str(), uri.authority()) {
            (Some("http" | "https"), Some(_)) => {}
            _ => {
                return Err(format!(
                    "endpoint for {} must be an http(s) URL with a host",
                    service.signing_name()
                ));
            }
        }
        if uri.path().is_empty() {
            let mut parts = uri.into_parts();
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            return Uri::from_parts(parts).map_err(|e| e.to_string());
        }
        Ok(uri)
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

struct Inner {
    http: HttpClient,
    region: String,
    identity: Identity,
    endpoints: [Uri; 4],
}

/// The signed JSON client, shared by the four ports (one connection pool per Lambda).
#[derive(Clone)]
pub struct JsonClient(Arc<Inner>);

impl fmt::Debug for JsonClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonClient")
            .field("region", &self.0.region)
            .field("endpoints", &self.0.endpoints)
            .finish_non_exhaustive()
    }
}

impl JsonClient {
    /// From the Lambda environment ([`Settings::from_env`]).
    pub fn from_env() -> Result<Self, String> {
        Self::new(Settings::from_env()?)
    }

    pub fn new(settings: Settings) -> Result<Self, String> {
        let [a, b, c, d] = Service::ALL.map(|s| settings.endpoint_for(s));
        let endpoints = [a?, b?, c?, d?];
        // ring, named explicitly: with another crate enabling aws-lc-rs too (the tests' SDK),
        // rustls would refuse to guess a process-wide provider.
        // A request is written in one go and the answer awaited: Nagle's algorithm would only
        // hold small writes back. hyper-rustls needs `enforce_http(false)` to see https URLs.
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("TLS setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self(Arc::new(Inner {
            http,
            region: settings.region,
            identity: settings.credentials.into(),
            endpoints,
        })))
    }

    /// Calls `<service>.<operation>` with `request` as the JSON body, retrying throttling,
    /// 5xx and lost connections (3 attempts, jittered exponential backoff from 50 ms, as the
    /// SDKs' standard mode does).
    pub async fn call<Req, Resp>(
        &self,
        service: Service,
        operation: &'static str,
        request: &Req,
    ) -> Result<Resp, ApiError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let err = |kind| ApiError { operation, kind };
        let body = serde_json::to_vec(request)
            .map(Bytes::from)
            .map_err(|e| err(ApiErrorKind::Request(e.to_string())))?;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_secs(2))
            .with_max_times(2)
            .with_jitter();
        let answer = (|| async {
            self.attempt(service, operation, body.clone())
                .await
                .map_err(err)
        })
        .retry(backoff)
        .when(ApiError::is_retryable)
        .await?;
        let answer: &[u8] = if answer.is_empty() { b"{}" } else { &answer };
        serde_json::from_slice(answer).map_err(|e| {
            // Position only: serde's message can quote a value (a GetItem answer holds a token).
            err(ApiErrorKind::Response(format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )))
        })
    }

    async fn attempt(
        &self,
        service: Service,
        operation: &str,
        body: Bytes,
    ) -> Result<Bytes, ApiErrorKind> {
        let request = self.signed_request(service, operation, body)?;
        let exchange = async {
            let response = self
                .0
                .http
                .request(request)
                .await
                .map_err(|e| ApiErrorKind::Transport(transport_message(&e)))?;
            let status = response.status().as_u16();
            let error_type = response
                .headers()
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| ApiErrorKind::Transport(format!("reading the answer: {e}")))?
                .to_bytes();
            if (200..300).contains(&status) {
                Ok(bytes)
            } else {
                Err(parse_error(status, error_type.as_deref(), &bytes))
            }
        };
        tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
            .await
            .map_err(|_| ApiErrorKind::Transport(format!("timed out after {ATTEMPT_TIMEOUT:?}")))?
    }

    /// `POST /` with the protocol headers, signed with SigV4 (host, content type and target
    /// are signed; the signer adds `x-amz-date`, `x-amz-security-token`, `authorization`).
    fn signed_request(
        &self,
        service: Service,
        operation: &str,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, ApiErrorKind> {
        let uri = &self.0.endpoints[service.index()];
        let host = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let target = format!("{}.{operation}", service.target_prefix());
        let signed_headers = [
            (HOST.as_str(), host),
            (CONTENT_TYPE.as_str(), service.content_type()),
            ("x-amz-target", target.as_str()),
        ];
        let params = v4::SigningParams::builder()
            .identity(&self.0.identity)
            .region(&self.0.region)
            .name(service.signing_name())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| ApiErrorKind::Request(format!("signing parameters: {e}")))?
            .into();
        let uri_text = uri.to_string();
        let signable = SignableRequest::new(
            "POST",
            uri_text.as_str(),
            signed_headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| ApiErrorKind::Request(format!("signing: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| ApiErrorKind::Request(format!("signing: {e}")))?
            .into_parts();
        let mut builder = Request::builder().method(Method::POST).uri(uri.clone());
        for (name, value) in signed_headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Full::new(body))
            .map_err(|e| ApiErrorKind::Request(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// hyper-util's error says only "client error (Connect)"; its source says why.
fn transport_message(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(kind: &ApiErrorKind) -> &str {
        match kind {
            ApiErrorKind::Service { code, .. } => code,
            other => panic!("not a service error: {other:?}"),
        }
    }

    #[test]
    fn error_code_from_recorded_bodies() {
        // Step Functions (awsJson1_0), as moto and AWS send it.
        let sfn = br#"{"__type": "com.amazonaws.swf.service.v2.model#TaskTimedOut", "message": "Task Timed Out: 'Provided task does not exist anymore'"}"#;
        assert_eq!(code_of(&parse_error(400, None, sfn)), "TaskTimedOut");
        let plain = br#"{"__type":"InvalidToken","message":"Invalid Token: 'Invalid token'"}"#;
        assert_eq!(code_of(&parse_error(400, None, plain)), "InvalidToken");
        // DynamoDB's namespaced type.
        let ddb = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
        let kind = parse_error(400, None, ddb);
        assert_eq!(code_of(&kind), "ConditionalCheckFailedException");
        assert_eq!(
            kind.to_string(),
            "ConditionalCheckFailedException: The conditional request failed (HTTP 400)"
        );
        // SSM (awsJson1_1) with `Message`, and the URI suffix the protocol allows.
        let ssm = br#"{"__type":"AutomationExecutionNotFoundException:http://internal.amazon.com/coral/com.amazonaws.ssm/","Message":"Automation execution not found"}"#;
        let kind = parse_error(400, None, ssm);
        assert_eq!(code_of(&kind), "AutomationExecutionNotFoundException");
        assert!(kind.to_string().contains("Automation execution not found"));
    }

    #[test]
    fn error_header_wins_and_odd_bodies_are_not_quoted() {
        let kind = parse_error(
            400,
            Some("ThrottlingException:http://internal/"),
            br#"{"__type":"Other"}"#,
        );
        assert_eq!(code_of(&kind), "ThrottlingException");
        let html = parse_error(502, None, b"<html>secret-looking proxy page</html>");
        assert_eq!(code_of(&html), "UnknownError");
        assert!(!html.to_string().contains("secret-looking"));
    }

    #[test]
    fn retry_classes() {
        let service = |status, code: &str| ApiError {
            operation: "Op",
            kind: ApiErrorKind::Service {
                status,
                code: code.into(),
                message: String::new(),
            },
        };
        assert!(service(400, "ThrottlingException").is_retryable());
        assert!(service(400, "ProvisionedThroughputExceededException").is_retryable());
        assert!(service(503, "UnknownError").is_retryable());
        assert!(!service(400, "TaskTimedOut").is_retryable());
        assert!(!service(400, "ConditionalCheckFailedException").is_retryable());
        assert!(!service(400, "AccessDeniedException").is_retryable());
        let transport = ApiError {
            operation: "Op",
            kind: ApiErrorKind::Transport("refused".into()),
        };
        assert!(transport.is_retryable());
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn settings_from_the_lambda_environment() {
        let lambda = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ("AWS_SESSION_TOKEN", "session-secret"),
        ];
        let s = Settings::from_lookup(vars(&lambda)).unwrap();
        assert_eq!(s.credentials.session_token(), Some("session-secret"));
        assert_eq!(
            s.endpoint_for(Service::StepFunctions).unwrap().to_string(),
            "https://states.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            s.endpoint_for(Service::DynamoDb).unwrap().to_string(),
            "https://dynamodb.eu-west-1.amazonaws.com/"
        );
        let debug = format!("{s:?}");
        assert!(!debug.contains("very-secret") && !debug.contains("session-secret"));
        assert!(!debug.contains("ASIAEXAMPLE"));

        let mut local = lambda.to_vec();
        local.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"));
        local.push(("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:6000"));
        let s = Settings::from_lookup(vars(&local)).unwrap();
        assert_eq!(
            s.endpoint_for(Service::StepFunctions).unwrap().to_string(),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(
            s.endpoint_for(Service::Ssm).unwrap().to_string(),
            "http://127.0.0.1:6000/"
        );

        let missing = Settings::from_lookup(vars(&lambda[..2])).unwrap_err();
        assert_eq!(missing, "AWS_SECRET_ACCESS_KEY is not set");
        let mut bad = lambda.to_vec();
        bad.push(("AWS_ENDPOINT_URL", "ftp://example"));
        assert!(
            JsonClient::new(Settings::from_lookup(vars(&bad)).unwrap())
                .unwrap_err()
                .contains("http(s) URL")
        );
    }

    #[test]
    fn china_regions_use_their_domain() {
        let s = Settings::fixed("cn-north-1", "k", "s", None);
        assert_eq!(
            s.endpoint_for(Service::Ssm).unwrap().to_string(),
            "https://ssm.cn-north-1.amazonaws.com.cn/"
        );
    }
}
