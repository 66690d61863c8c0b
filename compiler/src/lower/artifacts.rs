//! What `compile` produces: [`Artifacts`] = a [`Manifest`] plus files, all in memory. The
//! CLI writes them (the compiler does no I/O); deploy and the engine read `manifest.json`
//! and the files it lists, nothing else.

use serde::{Deserialize, Serialize};

use super::names::ChildKind;

/// Version of the manifest layout; bumped on any incompatible change.
pub const MANIFEST_FORMAT: u32 = 1;

/// Everything compiled from one workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifacts {
    pub manifest: Manifest,
    /// Sorted by path; `manifest.json` is not among them (see [`Artifacts::render`]).
    pub files: Vec<ArtifactFile>,
}

/// One emitted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Relative, `/`-separated, no `..`.
    pub path: String,
    pub kind: ArtifactKind,
    /// The account name the file belongs to, when it belongs to one.
    pub account: Option<String>,
    pub contents: String,
}

/// What a file is, so consumers can pick files without parsing paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// The per-workflow parent state machine definition.
    ParentDefinition,
    /// A generic child state machine definition (same in every account).
    ChildDefinition,
    /// The bootstrapped SSM Automation approval document content.
    SsmDocument,
    /// A CodePipeline V2 pipeline declaration (`CreatePipeline` shape).
    Pipeline,
    /// An IAM role with inline policies (`CreateRole` + `PutRolePolicy` shape).
    Role,
    /// A standalone IAM policy to attach to existing principals.
    Policy,
    /// An EventBridge rule with its targets (`PutRule` + `PutTargets` shape).
    Rule,
    /// A per-account CloudFormation bootstrap template.
    BootstrapTemplate,
    /// A part of a parent too large for one machine (`parts/part-<n>.asl.json`), deployed
    /// in the home account as [`PartEntry::name`] with the parent's role.
    PartDefinition,
}

/// `manifest.json`: the index of the artifacts and the facts deploy and the engine need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub workflow: String,
    pub region: String,
    pub home: AccountRef,
    pub accounts: Vec<AccountEntry>,
    pub parent: ParentEntry,
    /// Part machines the parent was split into (docs/compiler.md "Splitting into part
    /// machines"); empty, and absent from the file, when the parent fits the quotas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartEntry>,
    pub stages: Vec<StageEntry>,
    /// Ordering edges the compiler added to make the stage graph series-parallel.
    pub extra_edges: Vec<ExtraEdge>,
    /// Input fields whose `pattern` Step Functions cannot check (JSONPath has no regular
    /// expressions): `approvalc start` and the engine check them before starting a run.
    pub input_patterns: Vec<InputPattern>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub name: String,
    pub id: String,
    /// `bootstrap/<name>.template.json`.
    pub bootstrap: String,
    /// Child machines this workflow uses in the account.
    pub children: Vec<ChildKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentEntry {
    pub name: String,
    pub arn: String,
    pub definition: String,
    pub role: String,
    pub role_arn: String,
    /// Size of `definition` in bytes (quota: 1,048,576).
    pub definition_bytes: usize,
    /// Upper bound of history events of one run (quota: 25,000).
    pub worst_case_history_events: u64,
    pub state_count: usize,
}

/// One part machine: deployed in the home account with the parent's role, started by the
/// parent or by another part (`started_by`), one execution per run named after the run id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    /// `approvalc-<workflow>-part-<n>`.
    pub name: String,
    pub arn: String,
    /// `parts/part-<n>.asl.json`.
    pub definition: String,
    /// The execution role: the parent's.
    pub role_arn: String,
    /// Name of the machine that starts it (the parent's or another part's).
    pub started_by: String,
    /// Stages the part runs itself (their records are in the part execution's output).
    pub stages: Vec<String>,
    pub definition_bytes: usize,
    pub worst_case_history_events: u64,
    pub state_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageEntry {
    pub id: String,
    pub account: String,
    pub kind: ChildKind,
    pub child_arn: String,
    /// The role the parent assumes for a cross-account stage.
    pub execute_role_arn: Option<String>,
    /// The pipeline a `codepipeline` stage uses.
    pub pipeline: Option<String>,
    /// The part machine that runs the stage; absent when the parent runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraEdge {
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPattern {
    pub field: String,
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub kind: ArtifactKind,
    pub account: Option<String>,
    pub bytes: usize,
}

impl Artifacts {
    /// Every file to write, `manifest.json` first, as `(path, contents)`.
    pub fn render(&self) -> Result<Vec<(String, String)>, serde_json::Error> {
        let mut out = Vec::with_capacity(self.files.len() + 1);
        out.push(("manifest.json".to_owned(), to_json(&self.manifest)?));
        out.extend(
            self.files
                .iter()
                .map(|f| (f.path.clone(), f.contents.clone())),
        );
        Ok(out)
    }

    pub fn file(&self, path: &str) -> Option<&ArtifactFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Canonical JSON for every artifact: two-space indentation, a final newline.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    approvalc_asl::model::to_canonical_json(value)
}

/// Compact JSON with a final newline, for the parent definition: indentation inside nested
/// `Parallel` branches is more than half of a pretty-printed definition, and the 1 MB quota
/// counts every byte (`jq . parent.asl.json` to read it).
pub fn to_compact_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string(value)?;
    text.push('\n');
    Ok(text)
}
