//! The per-account bootstrap template (`approvalc bootstrap ACCOUNT`): token table, SSM
//! approval document, pipeline source bucket and role, the three generic child machines
//! with their roles, the four runtime Lambdas, their rules and permissions.
//!
//! Everything account- or region-specific goes through pseudo parameters, so the template
//! is the same for every account; state machines use `Definition` objects with
//! `DefinitionSubstitutions`.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::child;
use super::iam::{InlinePolicy, PolicyDocument, Statement, service_trust};
use super::names::{
    APPROVE_DOCUMENT, ArnBuilder, ChildKind, Lambda, PIPELINE_ACTION, PIPELINE_STAGE, TOKEN_TABLE,
    TOKEN_TABLE_RUN_INDEX,
};
use super::pipeline::PIPELINE_ROLE;
use super::rules;
use super::ssm::approval_document;

/// A CloudFormation template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub version: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Parameters")]
    pub parameters: IndexMap<String, Json>,
    #[serde(rename = "Resources")]
    pub resources: IndexMap<String, Resource>,
}

/// One resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "DeletionPolicy", skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<String>,
    #[serde(
        rename = "UpdateReplacePolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_replace_policy: Option<String>,
    #[serde(rename = "Properties")]
    pub properties: Json,
}

impl Resource {
    fn new(kind: &str, properties: Json) -> Self {
        Self {
            kind: kind.to_owned(),
            deletion_policy: None,
            update_replace_policy: None,
            properties,
        }
    }

    /// Stateful resources outlive the stack (runs in flight keep their tokens).
    fn retained(mut self) -> Self {
        self.deletion_policy = Some("Retain".to_owned());
        self.update_replace_policy = Some("Retain".to_owned());
        self
    }
}

fn sub(text: &str) -> Json {
    json!({ "Fn::Sub": text })
}

fn get_att(resource: &str, attribute: &str) -> Json {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

fn logical(kind: ChildKind) -> &'static str {
    match kind {
        ChildKind::Ssm => "SsmApproval",
        ChildKind::Codepipeline => "CodepipelineApproval",
        ChildKind::Action => "SsmAction",
    }
}

fn role(
    name: &str,
    description: &str,
    trust: PolicyDocument,
    statements: Vec<Statement>,
) -> Resource {
    let policy = InlinePolicy {
        name: name.to_owned(),
        document: PolicyDocument::new(statements),
    };
    Resource::new(
        "AWS::IAM::Role",
        json!({
            "RoleName": name,
            "Description": description,
            "AssumeRolePolicyDocument": trust,
            "Policies": [policy],
        }),
    )
}

/// The bootstrap template for one account. `account_name` only goes into the description.
pub fn template(account_name: &str, region: &str, account_id: &str) -> Template {
    let arns = ArnBuilder::templated(region, account_id);
    let mut resources: IndexMap<String, Resource> = IndexMap::new();
    let account_ref = json!({"Ref": "AWS::AccountId"});

    resources.insert("TokenTable".to_owned(), token_table());
    resources.insert(
        "ApproveDocument".to_owned(),
        Resource::new(
            "AWS::SSM::Document",
            json!({
                "Name": APPROVE_DOCUMENT,
                "DocumentType": "Automation",
                "DocumentFormat": "JSON",
                "UpdateMethod": "NewVersion",
                "Content": approval_document(),
            }),
        ),
    );
    resources.insert("PipelineSourceBucket".to_owned(), source_bucket());
    resources.insert(
        "PipelineRole".to_owned(),
        role(
            PIPELINE_ROLE,
            "approvalc approval pipelines: read the source object, write artifacts",
            service_trust("codepipeline.amazonaws.com", account_ref.clone(), None),
            vec![
                Statement::allow(
                    "ReadSourceWriteArtifacts",
                    &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                    vec!["arn:${AWS::Partition}:s3:::approvalc-pipeline-${AWS::AccountId}-${AWS::Region}/*".to_owned()],
                ),
                Statement::allow(
                    "ReadBucket",
                    &["s3:GetBucketVersioning", "s3:GetBucketLocation"],
                    vec!["arn:${AWS::Partition}:s3:::approvalc-pipeline-${AWS::AccountId}-${AWS::Region}".to_owned()],
                ),
            ],
        ),
    );

    for kind in ChildKind::ALL {
        let name = logical(kind);
        resources.insert(format!("{name}Role"), child_role(kind, &arns, &account_ref));
        let definition = child::machine(kind, "${TokenTable}");
        resources.insert(
            format!("{name}Machine"),
            Resource::new(
                "AWS::StepFunctions::StateMachine",
                json!({
                    "StateMachineName": kind.machine_name(),
                    "StateMachineType": "STANDARD",
                    "RoleArn": get_att(&format!("{name}Role"), "Arn"),
                    "Definition": definition,
                    "DefinitionSubstitutions": {"TokenTable": {"Ref": "TokenTable"}},
                }),
            ),
        );
    }

    for lambda in Lambda::ALL {
        lambda_resources(lambda, &arns, &account_ref, &mut resources);
    }
    rule_resources(&arns, &mut resources);

    let mut parameters = IndexMap::new();
    parameters.insert(
        "CodeBucket".to_owned(),
        json!({"Type": "String", "Description": "S3 bucket holding the approvalc runtime Lambda zips (uploaded by approvalc bootstrap)"}),
    );
    // One key per zip, content-addressed (the zip's SHA-256 is in the key): new code is a
    // new parameter value, which is what makes CloudFormation update the function.
    for lambda in Lambda::ALL {
        parameters.insert(
            code_key_parameter(lambda),
            json!({"Type": "String", "Description": format!("S3 key of {}.zip in CodeBucket (content-addressed; set by approvalc bootstrap)", lambda.function_name())}),
        );
    }
    // The zips' architecture is a choice of the machine that built them
    // (scripts/package-lambdas.sh): x86_64 builds everywhere, arm64 needs the aarch64 std.
    parameters.insert(
        "LambdaArchitecture".to_owned(),
        json!({"Type": "String", "Default": "x86_64", "AllowedValues": ["x86_64", "arm64"], "Description": "architecture of the Lambda zips in CodeBucket"}),
    );
    Template {
        version: "2010-09-09".to_owned(),
        description: format!(
            "approvalc bootstrap for account {account_name}: token table, approval document, generic child state machines, callback Lambdas and rules (generated; do not edit)"
        ),
        parameters,
        resources,
    }
}

/// The template parameter holding the S3 key of `lambda`'s zip.
pub fn code_key_parameter(lambda: Lambda) -> String {
    format!("{}CodeKey", lambda.logical())
}

fn token_table() -> Resource {
    Resource::new(
        "AWS::DynamoDB::Table",
        json!({
            "TableName": TOKEN_TABLE,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "correlation_id", "AttributeType": "S"},
                {"AttributeName": "run_id", "AttributeType": "S"},
            ],
            "KeySchema": [{"AttributeName": "correlation_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [{
                "IndexName": TOKEN_TABLE_RUN_INDEX,
                "KeySchema": [{"AttributeName": "run_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": true},
            "SSESpecification": {"SSEEnabled": true},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        }),
    )
    .retained()
}

fn source_bucket() -> Resource {
    Resource::new(
        "AWS::S3::Bucket",
        json!({
            "BucketName": sub("approvalc-pipeline-${AWS::AccountId}-${AWS::Region}"),
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true, "BlockPublicPolicy": true,
                "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
            },
        }),
    )
    .retained()
}

fn child_role(kind: ChildKind, arns: &ArnBuilder, account: &Json) -> Resource {
    let mut statements = vec![Statement::allow(
        "StoreToken",
        &["dynamodb:PutItem"],
        vec![arns.token_table()],
    )];
    match kind {
        ChildKind::Ssm => {
            statements.push(Statement::allow(
                "StartApproval",
                &["ssm:StartAutomationExecution"],
                vec![arns.automation_definition(APPROVE_DOCUMENT)],
            ));
            statements.push(Statement::allow(
                "StopApproval",
                &["ssm:StopAutomationExecution"],
                vec![arns.automation_executions()],
            ));
        }
        ChildKind::Codepipeline => statements.push(Statement::allow(
            "StartApprovalPipeline",
            &["codepipeline:StartPipelineExecution"],
            vec![arns.pipeline("approvalc-*")],
        )),
        // Action documents are the workflow's own: deploy attaches a per-workflow policy
        // naming them (iam/<account>/approvalc-<workflow>-documents.policy.json).
        ChildKind::Action => statements.push(Statement::allow(
            "StopAction",
            &["ssm:StopAutomationExecution"],
            vec![arns.automation_executions()],
        )),
    }
    role(
        kind.role_name(),
        &format!("approvalc {} child state machine", kind.as_str()),
        service_trust(
            "states.amazonaws.com",
            account.clone(),
            Some(sub(&arns.state_machine(kind.machine_name()))),
        ),
        statements,
    )
}

fn lambda_statements(lambda: Lambda, arns: &ArnBuilder) -> Vec<Statement> {
    let children: Vec<String> = ChildKind::ALL
        .iter()
        .map(|k| arns.state_machine(k.machine_name()))
        .collect();
    let table = vec![arns.token_table()];
    let index = vec![arns.token_table_index()];
    let send = Statement::allow(
        "ResumeChild",
        &["states:SendTaskSuccess", "states:SendTaskFailure"],
        children.clone(),
    );
    let read_ssm = Statement::allow(
        "ReadAutomation",
        &[
            "ssm:GetAutomationExecution",
            "ssm:DescribeAutomationStepExecutions",
        ],
        vec![arns.automation_executions()],
    );
    let pipelines = vec![arns.pipeline("approvalc-*")];
    let read_pipeline = Statement::allow(
        "ReadPipeline",
        &[
            "codepipeline:GetPipelineExecution",
            "codepipeline:ListActionExecutions",
            "codepipeline:GetPipelineState",
        ],
        pipelines.clone(),
    );
    let decide = Statement::allow(
        "RecordDecision",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
        table.clone(),
    );
    let query = Statement::allow("RunDecisions", &["dynamodb:Query"], index);
    let logs = Statement::allow(
        "Logs",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![arns.log_group(&format!("/aws/lambda/{}", lambda.function_name()))],
    );
    let mut out = match lambda {
        Lambda::SsmCallback => vec![read_ssm, decide, query, send],
        Lambda::CodepipelineCallback => vec![read_pipeline, decide, query, send],
        Lambda::Cleanup => vec![
            decide,
            query,
            Statement::allow(
                "StopAutomation",
                &["ssm:StopAutomationExecution"],
                vec![arns.automation_executions()],
            ),
            read_pipeline,
            Statement::allow(
                "RejectPendingApproval",
                &["codepipeline:PutApprovalResult"],
                vec![arns.pipeline(&format!("approvalc-*/{PIPELINE_STAGE}/{PIPELINE_ACTION}"))],
            ),
            Statement::allow(
                "ReadChild",
                &["states:DescribeExecution"],
                ChildKind::ALL
                    .iter()
                    .map(|k| arns.executions(k.machine_name()))
                    .collect(),
            ),
        ],
        Lambda::Reconciler => vec![
            Statement::allow(
                "ScanUndecided",
                &["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                table,
            ),
            query,
            read_ssm,
            read_pipeline,
            send,
        ],
    };
    out.push(logs);
    out
}

fn lambda_resources(
    lambda: Lambda,
    arns: &ArnBuilder,
    account: &Json,
    resources: &mut IndexMap<String, Resource>,
) {
    let name = lambda.logical();
    let function = lambda.function_name();
    resources.insert(
        format!("{name}Role"),
        role(
            function,
            &format!("approvalc runtime Lambda {function}"),
            service_trust(
                "lambda.amazonaws.com",
                account.clone(),
                Some(sub(&arns.lambda(function))),
            ),
            lambda_statements(lambda, arns),
        ),
    );
    resources.insert(
        format!("{name}Logs"),
        Resource::new(
            "AWS::Logs::LogGroup",
            json!({"LogGroupName": format!("/aws/lambda/{function}"), "RetentionInDays": 90}),
        ),
    );
    resources.insert(
        format!("{name}Function"),
        Resource::new(
            "AWS::Lambda::Function",
            json!({
                "FunctionName": function,
                "Description": format!("approvalc runtime: {function}"),
                "Runtime": "provided.al2023",
                "Architectures": [{"Ref": "LambdaArchitecture"}],
                "Handler": "bootstrap",
                // Measured peak RSS 4.1-4.4 MiB per handler (docs/bench-runtime.md).
                "MemorySize": 128,
                "Timeout": 60,
                "Role": get_att(&format!("{name}Role"), "Arn"),
                "Code": {
                    "S3Bucket": {"Ref": "CodeBucket"},
                    "S3Key": {"Ref": code_key_parameter(lambda)},
                },
                "Environment": {"Variables": {"APPROVALC_TOKEN_TABLE": {"Ref": "TokenTable"}}},
                "LoggingConfig": {"LogGroup": {"Ref": format!("{name}Logs")}},
            }),
        ),
    );
}

fn rule_resources(arns: &ArnBuilder, resources: &mut IndexMap<String, Resource>) {
    let children: Vec<Json> = ChildKind::ALL
        .iter()
        .map(|k| sub(&arns.state_machine(k.machine_name())))
        .collect();
    let rules: [(&str, &str, Lambda, Json); 3] = [
        (
            "SsmApprovalRule",
            "approvalc-ssm-approval",
            Lambda::SsmCallback,
            rules::ssm_pattern(&[APPROVE_DOCUMENT.to_owned()]),
        ),
        (
            "CodepipelineApprovalRule",
            "approvalc-codepipeline-approval",
            Lambda::CodepipelineCallback,
            rules::codepipeline_pattern(),
        ),
        (
            "CleanupRule",
            "approvalc-cleanup",
            Lambda::Cleanup,
            rules::cleanup_pattern(children),
        ),
    ];
    for (logical, name, lambda, pattern) in rules {
        resources.insert(
            logical.to_owned(),
            Resource::new(
                "AWS::Events::Rule",
                json!({
                    "Name": name,
                    "Description": format!("approvalc: events for {}", lambda.function_name()),
                    "EventBusName": "default",
                    "State": "ENABLED",
                    "EventPattern": pattern,
                    "Targets": [{"Id": lambda.function_name(), "Arn": get_att(&format!("{}Function", lambda.logical()), "Arn")}],
                }),
            ),
        );
        resources.insert(
            format!("{logical}Permission"),
            permission(lambda, get_att(logical, "Arn")),
        );
    }
    resources.insert(
        "ReconcilerSchedule".to_owned(),
        Resource::new(
            "AWS::Events::Rule",
            json!({
                "Name": "approvalc-reconciler",
                "Description": "approvalc: resolve decisions whose event was lost",
                "State": "ENABLED",
                "ScheduleExpression": "rate(5 minutes)",
                "Targets": [{"Id": Lambda::Reconciler.function_name(), "Arn": get_att("ReconcilerFunction", "Arn")}],
            }),
        ),
    );
    resources.insert(
        "ReconcilerSchedulePermission".to_owned(),
        permission(Lambda::Reconciler, get_att("ReconcilerSchedule", "Arn")),
    );
    // Per-workflow rules (action and custom approval documents) are named
    // `approvalc-<workflow>-documents` and target the SSM callback.
    resources.insert(
        "WorkflowRulesPermission".to_owned(),
        permission(Lambda::SsmCallback, sub(&arns.rule("approvalc-*"))),
    );
}

fn permission(lambda: Lambda, source_arn: Json) -> Resource {
    Resource::new(
        "AWS::Lambda::Permission",
        json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": format!("{}Function", lambda.logical())},
            "Principal": "events.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": source_arn,
        }),
    )
}
