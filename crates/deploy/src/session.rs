//! Credentials, regions, endpoints and accounts: one [`Session`] per command, one
//! [`AccountClients`] per account of the workflow.
//!
//! The caller's credentials come from the standard chain (`--profile`, environment, SSO,
//! instance roles). For an account other than the caller's, deploy assumes the bootstrap
//! deploy role there ([`DEPLOY_ROLE`]) through STS with an `ExternalId`
//! ([`external_id`]). Every client carries the [`Calls`] interceptor and the endpoint
//! override (`--endpoint-url`; `AWS_ENDPOINT_URL` is read by aws-config itself).

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_sts::config::{Credentials, Region, SharedCredentialsProvider};

use crate::calls::Calls;
use crate::error::{CallError, DeployError, call_error};
use crate::model::Account;

/// The role `approvalc bootstrap` creates in every account for deploys from elsewhere.
pub const DEPLOY_ROLE: &str = "approvalc-deploy";

/// The `ExternalId` deploy passes when it assumes [`DEPLOY_ROLE`]: it names the account
/// that deploys (the workflow's home), so that a role trusting several operator accounts
/// cannot be used by one on behalf of another.
pub fn external_id(home_account_id: &str) -> String {
    format!("approvalc-deploy-{home_account_id}")
}

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    pub profile: Option<String>,
    /// Overrides the profile's region; must equal the workflow's region when given.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Static credentials instead of the default chain (tests).
    pub credentials: Option<Credentials>,
    pub calls: Calls,
}

/// Who the caller is (`sts:GetCallerIdentity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// The caller's configuration for one region.
#[derive(Debug, Clone)]
pub struct Session {
    config: aws_config::SdkConfig,
    pub caller: Caller,
    pub calls: Calls,
    pub region: String,
}

/// Every client deploy uses in one account.
#[derive(Debug, Clone)]
pub struct AccountClients {
    pub account: Account,
    pub iam: aws_sdk_iam::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    /// Bootstrap only: the Lambda code bucket.
    pub s3: aws_sdk_s3::Client,
    pub region: String,
}

impl Session {
    /// Loads the configuration for `region` (the workflow's) and asks STS who we are.
    pub async fn connect(options: SessionOptions, region: &str) -> Result<Session, DeployError> {
        if let Some(asked) = &options.region
            && asked != region
        {
            return Err(DeployError::new(format!(
                "the workflow deploys to {region}, but --region says {asked}"
            ))
            .with_help(format!(
                "drop --region (approvalc uses the workflow's `region`), or change `region: {region}` in the workflow"
            )));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::standard().with_max_attempts(6));
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = options.credentials.clone() {
            loader = loader.credentials_provider(credentials);
        }
        let config = loader.load().await;
        let sts = sts_client(&config, &options.calls);
        let identity = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| call_error("sts:GetCallerIdentity", e))
            .map_err(|e| no_identity(e, options.profile.as_deref()))?;
        let caller = Caller {
            account: identity.account().unwrap_or_default().to_owned(),
            arn: identity.arn().unwrap_or_default().to_owned(),
        };
        Ok(Session {
            config,
            caller,
            calls: options.calls,
            region: region.to_owned(),
        })
    }

    /// Clients for `account`: the caller's own credentials when the caller is in it, else
    /// the deploy role assumed with `external_id`.
    pub async fn account(
        &self,
        account: &Account,
        external_id: &str,
    ) -> Result<AccountClients, DeployError> {
        if account.id == self.caller.account {
            return Ok(self.clients(account, &self.config));
        }
        let role_arn = format!("arn:aws:iam::{}:role/{DEPLOY_ROLE}", account.id);
        let sts = sts_client(&self.config, &self.calls);
        let assumed = sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("approvalc-deploy")
            .external_id(external_id)
            .send()
            .await
            .map_err(|e| call_error("sts:AssumeRole", e))
            .map_err(|e| cannot_assume(e, account, &role_arn, &self.caller))?;
        let Some(c) = assumed.credentials() else {
            return Err(DeployError::new(format!(
                "sts:AssumeRole into {role_arn} returned no credentials"
            )));
        };
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            std::time::SystemTime::try_from(*c.expiration()).ok(),
            "approvalc-assumed",
        );
        let config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok(self.clients(account, &config))
    }

    fn clients(&self, account: &Account, config: &aws_config::SdkConfig) -> AccountClients {
        let calls = &self.calls;
        AccountClients {
            account: account.clone(),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            sfn: aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            codepipeline: aws_sdk_codepipeline::Client::from_conf(
                aws_sdk_codepipeline::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            events: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            sts: sts_client(config, calls),
            // Emulators answer on one host name: path-style addressing (`host/bucket/key`)
            // instead of a `bucket.host` DNS name that does not resolve.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(config.endpoint_url().is_some())
                    .interceptor(calls.clone())
                    .build(),
            ),
            region: self.region.clone(),
        }
    }
}

fn sts_client(config: &aws_config::SdkConfig, calls: &Calls) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .interceptor(calls.clone())
            .build(),
    )
}

fn no_identity(call: CallError, profile: Option<&str>) -> DeployError {
    use crate::error::CallErrorKind as K;
    let message = match call.kind {
        K::NoCredentials => "no AWS credentials found".to_owned(),
        K::AccessDenied => format!("AWS rejected the credentials: {}", call.message),
        K::Unreachable => format!("could not reach AWS STS: {}", call.message),
        _ => format!("could not find out who you are: {call}"),
    };
    let help = match (call.kind, profile) {
        (K::NoCredentials, Some(p)) => format!(
            "profile `{p}` has no usable credentials: run `aws sso login --profile {p}` or `aws configure --profile {p}`"
        ),
        (K::NoCredentials, None) => "run `aws configure` or `aws sso login`, pass --profile NAME, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned(),
        (K::AccessDenied, _) => "the credentials are wrong or expired: sign in again (`aws sso login`) or pick another --profile".to_owned(),
        (K::Unreachable, _) => "check the workflow's `region`, --endpoint-url / AWS_ENDPOINT_URL and the network".to_owned(),
        _ => "check the credentials (`aws sts get-caller-identity`) and try again".to_owned(),
    };
    DeployError {
        message,
        help: Some(help),
        call: Some(Box::new(call)),
    }
}

fn cannot_assume(
    call: CallError,
    account: &Account,
    role_arn: &str,
    caller: &Caller,
) -> DeployError {
    if call.is(crate::error::CallErrorKind::Injected) {
        return DeployError::from_call(call, &account.to_string());
    }
    DeployError {
        message: format!(
            "cannot deploy to account {account}: assuming {role_arn} failed ({})",
            call.code.as_deref().unwrap_or(&call.message)
        ),
        help: Some(format!(
            "bootstrap that account first (`approvalc bootstrap {name} FILE` with credentials of {id}); \
             its {DEPLOY_ROLE} role must trust your account {caller_account} ({caller_arn}) \
             and your identity needs sts:AssumeRole on {role_arn}",
            name = account.name,
            id = account.id,
            caller_account = caller.account,
            caller_arn = caller.arn,
        )),
        call: Some(Box::new(call)),
    }
}
