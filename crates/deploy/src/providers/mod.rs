//! The AWS implementations of [`crate::provider::Provider`], one module per service.

pub mod iam;
pub mod pipeline;
pub mod rules;
pub mod sfn;

use crate::model::Kind;
use crate::provider::Provider;
use crate::session::AccountClients;

/// The provider of `kind` in one account.
pub fn for_kind(clients: &AccountClients, kind: Kind) -> Box<dyn Provider> {
    let account_id = clients.account.id.clone();
    let region = clients.region.clone();
    match kind {
        Kind::Role => Box::new(iam::Roles {
            client: clients.iam.clone(),
        }),
        Kind::Policy => Box::new(iam::Policies {
            client: clients.iam.clone(),
            account_id,
        }),
        Kind::Pipeline => Box::new(pipeline::Pipelines {
            client: clients.codepipeline.clone(),
            region,
            account_id,
        }),
        Kind::Rule => Box::new(rules::Rules {
            client: clients.events.clone(),
            region,
            account_id,
        }),
        Kind::StateMachine => Box::new(sfn::StateMachines {
            client: clients.sfn.clone(),
            region,
            account_id,
        }),
    }
}
