//! The runtime Lambda zips for `approvalc bootstrap`: read from the directory
//! `scripts/package-lambdas.sh` writes, uploaded to a code bucket under content-addressed
//! keys (`approvalc/lambda/<function>-<sha256>.zip`), and handed to the bootstrap stack as
//! parameters. New code is a new key, hence a new parameter value, hence a CloudFormation
//! update of the function; unchanged code is found by `HeadObject` and not sent again.
//!
//! The bucket: approvalc creates it when it does not exist (tagged [`OWNER_TAG`], public
//! access blocked). A bucket without that tag (yours, named by `--code-bucket`) is never
//! changed: only approvalc's keys are put into it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use approvalc_compiler::lower::bootstrap::code_key_parameter;
use approvalc_compiler::lower::names::Lambda;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration, Tag,
    Tagging,
};
use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};

use crate::error::{CallError, CallErrorKind, DeployError, call_error};

/// Where the keys live in the bucket.
pub const KEY_PREFIX: &str = "approvalc/lambda/";
/// The script that builds the zips (named in every diagnostic about missing zips).
pub const PACKAGE_SCRIPT: &str = "scripts/package-lambdas.sh";
/// The tag approvalc puts on a code bucket it created; without it a bucket is not ours.
pub const OWNER_TAG: &str = "approvalc:bootstrap";
const OWNER_VALUE: &str = "code-bucket";

/// The zips' CPU architecture (the stack's `LambdaArchitecture` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    /// As AWS and `scripts/package-lambdas.sh --arch` spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// Where `scripts/package-lambdas.sh` writes zips of this architecture.
    pub fn default_dir(self) -> PathBuf {
        Path::new("dist/lambda").join(self.as_str())
    }
}

/// The default code bucket of an account: bucket names are global, so account and region
/// make it unique and let every account have its own.
pub fn default_bucket(account_id: &str, region: &str) -> String {
    format!("approvalc-code-{account_id}-{region}")
}

/// One runtime zip read from disk.
#[derive(Debug, Clone)]
pub struct LambdaZip {
    pub lambda: Lambda,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Lowercase hex SHA-256 of `bytes`.
    pub sha256: String,
}

impl LambdaZip {
    /// The content-addressed S3 key.
    pub fn key(&self) -> String {
        format!(
            "{KEY_PREFIX}{}-{}.zip",
            self.lambda.function_name(),
            self.sha256
        )
    }
}

fn missing_help(dir: &Path, architecture: Architecture) -> String {
    format!(
        "build them with `{PACKAGE_SCRIPT} --arch {arch}` (writes {default}), or pass --lambda-dir \
         with the directory holding approvalc-{{ssm-callback,codepipeline-callback,cleanup,reconciler}}.zip \
         (now: {dir})",
        arch = architecture.as_str(),
        default = architecture.default_dir().display(),
        dir = dir.display(),
    )
}

/// Reads the four zips from `dir` (`approvalc-<name>.zip` each). A missing directory or
/// zip, or a file that is not a zip, is a diagnostic naming the script that builds them.
pub fn read_zips(dir: &Path, architecture: Architecture) -> Result<Vec<LambdaZip>, DeployError> {
    if !dir.is_dir() {
        return Err(DeployError::new(format!(
            "no Lambda zips: directory {} does not exist",
            dir.display()
        ))
        .with_help(missing_help(dir, architecture)));
    }
    let mut zips = Vec::new();
    let mut missing = Vec::new();
    for lambda in Lambda::ALL {
        let path = dir.join(format!("{}.zip", lambda.function_name()));
        match std::fs::read(&path) {
            Ok(bytes) if bytes.starts_with(b"PK\x03\x04") => {
                let sha256 = hex::encode(Sha256::digest(&bytes));
                zips.push(LambdaZip {
                    lambda,
                    path,
                    bytes,
                    sha256,
                });
            }
            Ok(_) => {
                return Err(
                    DeployError::new(format!("{} is not a zip file", path.display()))
                        .with_help(missing_help(dir, architecture)),
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(format!("{}.zip", lambda.function_name()));
            }
            Err(e) => {
                return Err(DeployError::new(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        }
    }
    if !missing.is_empty() {
        return Err(
            DeployError::new(format!("{} has no {}", dir.display(), missing.join(", ")))
                .with_help(missing_help(dir, architecture)),
        );
    }
    Ok(zips)
}

/// What [`upload`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uploaded {
    pub bucket: String,
    /// The bucket did not exist and approvalc created it.
    pub bucket_created: bool,
    /// Template parameter (`SsmCallbackCodeKey` …) → S3 key.
    pub keys: BTreeMap<String, String>,
    /// Keys sent now (the others were already there).
    pub sent: Vec<String>,
}

/// Makes sure `bucket` exists (creating it when it does not) and holds every zip under its
/// content-addressed key; sends only the zips whose key is missing. Every step is safe to
/// repeat, so a killed upload converges when run again.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    zips: &[LambdaZip],
) -> Result<Uploaded, DeployError> {
    let bucket_created = ensure_bucket(s3, bucket, region).await?;
    let sent = try_join_all(zips.iter().map(|zip| put_if_missing(s3, bucket, zip))).await?;
    Ok(Uploaded {
        bucket: bucket.to_owned(),
        bucket_created,
        keys: zips
            .iter()
            .map(|z| (code_key_parameter(z.lambda), z.key()))
            .collect(),
        sent: sent.into_iter().flatten().collect(),
    })
}

async fn put_if_missing(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    zip: &LambdaZip,
) -> Result<Option<String>, DeployError> {
    let key = zip.key();
    let fail = |e: CallError| bucket_error(e, bucket);
    match s3.head_object().bucket(bucket).key(&key).send().await {
        Ok(_) => return Ok(None),
        Err(e) => {
            let e = call_error("s3:GetObject", e);
            // Without s3:ListBucket a missing key answers 403, not 404: upload then.
            if !e.is(CallErrorKind::NotFound) && !e.is(CallErrorKind::AccessDenied) {
                return Err(fail(e));
            }
        }
    }
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/zip")
        .body(ByteStream::from(zip.bytes.clone()))
        .send()
        .await
        .map_err(|e| fail(call_error("s3:PutObject", e)))?;
    Ok(Some(key))
}

/// Whether the bucket is approvalc's, missing, or someone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Missing,
    Approvalc,
    Other,
}

async fn owner(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Owner, CallError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(
            if out
                .tag_set()
                .iter()
                .any(|t| t.key() == OWNER_TAG && t.value() == OWNER_VALUE)
            {
                Owner::Approvalc
            } else {
                Owner::Other
            },
        ),
        Err(e) => {
            let e = call_error("s3:GetBucketTagging", e);
            match e.code.as_deref() {
                Some("NoSuchBucket") => Ok(Owner::Missing),
                Some("NoSuchTagSet") => Ok(Owner::Other),
                _ => Err(e),
            }
        }
    }
}

/// Creates the bucket when missing; completes a bucket approvalc created (public access
/// blocked); leaves any other bucket alone. Returns whether it created it.
async fn ensure_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
) -> Result<bool, DeployError> {
    let fail = |e: CallError| bucket_error(e, bucket);
    let found = owner(s3, bucket).await.map_err(fail)?;
    let created = found == Owner::Missing;
    match found {
        Owner::Other => return Ok(false),
        Owner::Missing => create_bucket(s3, bucket, region).await.map_err(fail)?,
        Owner::Approvalc => {
            if public_access_blocked(s3, bucket).await.map_err(fail)? {
                return Ok(false);
            }
        }
    }
    block_public_access(s3, bucket).await.map_err(fail)?;
    Ok(created)
}

/// `CreateBucket` then the owner tag, in this order: a bucket approvalc created carries
/// the tag from its second call on. (Killed between the two, the bucket looks foreign and
/// only gets keys; on AWS new buckets block public access by default anyway.)
async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
) -> Result<(), CallError> {
    let mut request = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses its own name as a location constraint.
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) => {
            let e = call_error("s3:CreateBucket", e);
            if !e.is(CallErrorKind::AlreadyExists) {
                return Err(e);
            }
        }
    }
    let tag = Tag::builder()
        .key(OWNER_TAG)
        .value(OWNER_VALUE)
        .build()
        .map_err(|e| CallError::other("s3:PutBucketTagging", e.to_string()))?;
    let tagging = Tagging::builder()
        .tag_set(tag)
        .build()
        .map_err(|e| CallError::other("s3:PutBucketTagging", e.to_string()))?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| call_error("s3:PutBucketTagging", e))?;
    Ok(())
}

async fn public_access_blocked(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, CallError> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        })),
        Err(e) => {
            let e = call_error("s3:GetBucketPublicAccessBlock", e);
            if e.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

async fn block_public_access(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), CallError> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| call_error("s3:PutBucketPublicAccessBlock", e))?;
    Ok(())
}

fn bucket_error(e: CallError, bucket: &str) -> DeployError {
    // S3 answers 301 for a bucket in another region; Lambda reads code only from its own.
    if matches!(
        e.code.as_deref(),
        Some(
            "PermanentRedirect"
                | "AuthorizationHeaderMalformed"
                | "IllegalLocationConstraintException"
        )
    ) {
        return DeployError {
            message: format!("code bucket {bucket} is in another region than the workflow"),
            help: Some(
                "Lambda reads its code only from a bucket in its own region: pass --code-bucket \
                 with a bucket in the workflow's region, or leave it out for the default one"
                    .to_owned(),
            ),
            call: Some(Box::new(e)),
        };
    }
    let taken = e.code.as_deref() == Some("BucketAlreadyExists");
    if taken || (e.is(CallErrorKind::AccessDenied) && e.action == "s3:GetBucketTagging") {
        return DeployError {
            message: format!(
                "code bucket {bucket} belongs to someone else or you may not read it ({})",
                e.code.as_deref().unwrap_or(&e.message)
            ),
            help: Some(
                "pass --code-bucket with a bucket of this account (it is created when missing), \
                 or allow s3:GetBucketTagging, s3:PutObject and s3:GetObject on it"
                    .to_owned(),
            ),
            call: Some(Box::new(e)),
        };
    }
    DeployError::from_call(e, bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(action: &str, kind: CallErrorKind, code: &str) -> CallError {
        CallError {
            action: action.to_owned(),
            kind,
            code: Some(code.to_owned()),
            message: String::new(),
        }
    }

    #[test]
    fn a_bucket_elsewhere_or_not_ours_says_what_to_pass() {
        let e = bucket_error(
            call(
                "s3:GetBucketTagging",
                CallErrorKind::Other,
                "PermanentRedirect",
            ),
            "b",
        );
        assert!(e.message.contains("another region"), "{e}");
        assert!(e.help.unwrap().contains("--code-bucket"));
        let e = bucket_error(
            call(
                "s3:CreateBucket",
                CallErrorKind::Other,
                "BucketAlreadyExists",
            ),
            "b",
        );
        assert!(e.message.contains("belongs to someone else"), "{e}");
        let e = bucket_error(
            call(
                "s3:GetBucketTagging",
                CallErrorKind::AccessDenied,
                "AccessDenied",
            ),
            "b",
        );
        assert!(e.message.contains("belongs to someone else"), "{e}");
        // Any other failure keeps the generic diagnostic (names the action to allow).
        let e = bucket_error(
            call("s3:PutObject", CallErrorKind::AccessDenied, "AccessDenied"),
            "b",
        );
        assert!(!e.message.contains("someone else"), "{e}");
    }

    #[test]
    fn missing_zips_name_the_script_and_the_files() {
        let dir = std::env::temp_dir().join(format!("approvalc-zips-{}", std::process::id()));
        let err = read_zips(&dir, Architecture::X86_64).unwrap_err();
        assert!(err.message.contains("does not exist"), "{err}");
        assert!(err.help.as_deref().unwrap_or("").contains(PACKAGE_SCRIPT));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("approvalc-cleanup.zip"), b"PK\x03\x04x").unwrap();
        std::fs::write(dir.join("approvalc-reconciler.zip"), b"not a zip").unwrap();
        let err = read_zips(&dir, Architecture::Arm64).unwrap_err();
        assert!(err.message.contains("is not a zip"), "{err}");
        std::fs::write(dir.join("approvalc-reconciler.zip"), b"PK\x03\x04y").unwrap();
        let err = read_zips(&dir, Architecture::Arm64).unwrap_err();
        assert!(
            err.message.contains("approvalc-ssm-callback.zip")
                && err.message.contains("approvalc-codepipeline-callback.zip")
                && !err.message.contains("cleanup"),
            "{err}"
        );
        assert!(err.help.as_deref().unwrap_or("").contains("--arch arm64"));
        std::fs::write(dir.join("approvalc-ssm-callback.zip"), b"PK\x03\x04a").unwrap();
        std::fs::write(
            dir.join("approvalc-codepipeline-callback.zip"),
            b"PK\x03\x04b",
        )
        .unwrap();
        let zips = read_zips(&dir, Architecture::X86_64).unwrap();
        assert_eq!(zips.len(), 4);
        let key = zips[0].key();
        assert!(
            key.starts_with("approvalc/lambda/approvalc-ssm-callback-"),
            "{key}"
        );
        assert_eq!(
            key.len(),
            "approvalc/lambda/approvalc-ssm-callback-.zip".len() + 64
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
