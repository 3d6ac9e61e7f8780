//! `import --tests FILE`: the policy tests that pin an imported policy to API Gateway's
//! answers (docs/policy-tests.md lists the cases), run with `cognito-ext-authz test`. The
//! cases ([`cases`]) are read from the import's policy document, what `assemble` returns;
//! the answers they expect come from the service's one mapping of a denial to API
//! Gateway's answer ([`DenyReason::response`]), and each sample request ([`samples`]) is
//! first looked up in the route table the service compiles from that document, so a case
//! never silently tests a different route than the one it names.

mod cases;
mod samples;

use std::collections::BTreeMap;

use super::{ImportError, Translation, one_line};
use cognito_ext_authz_core::decision::DenyReason;
use cognito_ext_authz_core::policy::model::{
    AuthMode, AuthorizerConfig, DEFAULT_INSUFFICIENT_SCOPE_STATUS, DefaultAction, PolicyFile,
    RouteConfig, UserPoolConfig,
};
use cognito_ext_authz_core::policy::responses::GatewayResponses;
use cognito_ext_authz_core::policy::rules::{default_route_name, whole_match_expression};
use cognito_ext_authz_core::policy::template::PathTemplate;
use cognito_ext_authz_core::policy::{Policy, pool_id_of_arn};
use cognito_ext_authz_core::policy_tests::{Expect, TestCase, TestFile, TestRequest};

/// A path no route should take, for the default action.
const NO_ROUTE_PATH: &str = "/cognito-ext-authz-test/no-such-resource";

impl Translation {
    /// The tests YAML for the imported policy, and how many cases it holds.
    pub fn to_tests_yaml(&self, source: &str) -> Result<(String, usize), ImportError> {
        let (file, skipped) = tests_for(&self.policy).map_err(ImportError::Internal)?;
        let body = serde_saphyr::to_string(&file)
            .map_err(|e| ImportError::Internal(format!("cannot write the tests YAML: {e}")))?;
        let mut out = format!(
            "# cognito-ext-authz policy tests imported from {} ({}): API Gateway's answer\n\
             # for each imported method. Run: cognito-ext-authz test POLICY THIS_FILE\n",
            one_line(source),
            self.format
        );
        for s in &skipped {
            out.push_str(&format!("# not tested: {}\n", one_line(s)));
        }
        out.push_str(&body);
        Ok((out, file.tests.len()))
    }
}

/// The import's policy document, as the cases read it, and the service's answers to it.
struct Plan<'d> {
    doc: &'d PolicyFile,
    /// What the service compiles from the document: whose route table says which route a
    /// request lands on.
    served: Policy,
    /// The id of every pool the policy trusts, in the service's order.
    pools: Vec<String>,
    responses: GatewayResponses,
    insufficient_scope_status: u16,
}

/// A route of the document, as a case names it.
struct Target<'d> {
    /// Its place in the document's `routes`.
    index: usize,
    route: &'d RouteConfig,
    name: String,
    template: PathTemplate,
    /// Upper case; empty: any method.
    methods: Vec<String>,
    /// The authorizer of a protected route, with its identity validation expression.
    authorizer: Option<(&'d AuthorizerConfig, Option<regex::Regex>)>,
}

/// The cases for every route of `doc`, and the routes no sample request reaches; `Err`
/// when the document does not compile (a bug in import).
pub(crate) fn tests_for(doc: &PolicyFile) -> Result<(TestFile, Vec<String>), String> {
    let plan = Plan::new(doc)?;
    let mut tests = Vec::new();
    let mut skipped = Vec::new();
    for (index, route) in doc.routes.iter().enumerate() {
        let target = plan.target(index, route)?;
        let methods = if target.methods.is_empty() {
            vec!["GET".to_owned()]
        } else {
            target.methods.clone()
        };
        let host = route
            .hosts
            .as_ref()
            .and_then(|h| h.first())
            .map(|h| samples::sample_host(h))
            .unwrap_or_default();
        for method in methods {
            match samples::sample_path(&plan, &target, &method, &host) {
                Some(path) => {
                    let request = request(&method, &path, &host);
                    cases::cases_for(&plan, &target, &request, &mut tests, &mut skipped);
                }
                None => skipped.push(format!(
                    "{method} {} ({}): no sample request reaches this route",
                    target.template, target.name
                )),
            }
        }
    }
    if doc.default_action == DefaultAction::Deny
        && plan.lands_on(NO_ROUTE_PATH, "GET", "").is_none()
    {
        tests.push(TestCase {
            name: Some("no route: 403 (API Gateway's missing resource)".to_owned()),
            request: request("GET", NO_ROUTE_PATH, ""),
            token: None,
            expect: plan.denial(&DenyReason::NoRoute, None),
        });
    }
    Ok((TestFile { tests }, skipped))
}

impl<'d> Plan<'d> {
    fn new(doc: &'d PolicyFile) -> Result<Self, String> {
        let served = Policy::compile(doc)
            .map_err(|e| format!("the imported policy does not compile: {e}"))?;
        // Checked in full by the compilation above: no header is reserved here.
        let mut errors = Vec::new();
        let responses = GatewayResponses::compile(&doc.gateway_responses, &[], &mut errors);
        if !errors.is_empty() {
            return Err(format!(
                "the imported gateway responses do not compile: {}",
                cognito_ext_authz_core::FileErrors::of(errors)
            ));
        }
        // The service's pools: each authorizer's, in name order (the single-authorizer
        // form's when there is none), each once.
        let lists: Vec<&[UserPoolConfig]> = if doc.authorizers.is_empty() {
            vec![&doc.user_pools]
        } else {
            doc.authorizers
                .values()
                .map(|a| &a.user_pools[..])
                .collect()
        };
        let mut pools: Vec<String> = Vec::new();
        for id in lists.into_iter().flatten().filter_map(pool_id) {
            if !pools.iter().any(|p| p == id) {
                pools.push(id.to_owned());
            }
        }
        Ok(Plan {
            doc,
            served,
            pools,
            responses,
            insufficient_scope_status: doc
                .insufficient_scope_status
                .unwrap_or(DEFAULT_INSUFFICIENT_SCOPE_STATUS),
        })
    }

    /// The document's route `index` as the cases name and test it.
    fn target(&self, index: usize, route: &'d RouteConfig) -> Result<Target<'d>, String> {
        let template = PathTemplate::parse(&route.path)
            .map_err(|e| format!("the imported route {:?}: {e}", route.path))?;
        let methods = route.methods.clone().unwrap_or_default();
        let name = route
            .name
            .clone()
            .unwrap_or_else(|| default_route_name(&methods, &route.path));
        let authorizer = match (route.auth, &route.authorizer) {
            (Some(AuthMode::None | AuthMode::Deny), _) => None,
            (_, Some(authorizer)) => {
                let config = self.doc.authorizers.get(authorizer).ok_or_else(|| {
                    format!("the imported route {name} names the authorizer {authorizer:?}, which the policy does not define")
                })?;
                let expression = config
                    .identity_validation_expression
                    .as_deref()
                    .map(whole_match_expression)
                    .transpose()?;
                Some((config, expression))
            }
            (_, None) => {
                return Err(format!(
                    "the imported route {name} is protected but names no authorizer"
                ));
            }
        };
        Ok(Target {
            index,
            route,
            name,
            template,
            methods,
            authorizer,
        })
    }

    /// The document index of the route a request lands on, as the service looks it up.
    fn lands_on(&self, path: &str, method: &str, host: &str) -> Option<usize> {
        let segments = cognito_ext_authz_core::path::segments(path).ok()?;
        let host = cognito_ext_authz_core::host::normalize(host.as_bytes()).ok()?;
        self.served
            .routes
            .find(&segments, method, &host)
            .map(|r| r.index)
    }

    /// What `test` expects of a denial for `reason`: the service's answer (API Gateway's,
    /// as the gateway responses change it), its headers included.
    fn denial(&self, reason: &DenyReason, route: Option<String>) -> Expect {
        let answer = reason.response(self.insufficient_scope_status, &self.responses);
        Expect {
            status: answer.status,
            route,
            reason: Some(reason.label().to_owned()),
            headers: answer
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            body: Some(answer.body.to_string()),
        }
    }
}

/// The id of a pool of the document: its `id`, or the one its ARN names.
fn pool_id(pool: &UserPoolConfig) -> Option<&str> {
    match pool.arn.as_deref() {
        Some(arn) if pool.id.is_empty() => pool_id_of_arn(arn),
        _ => Some(pool.id.as_str()),
    }
}

fn request(method: &str, path: &str, host: &str) -> TestRequest {
    TestRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        host: host.to_owned(),
        headers: BTreeMap::new(),
    }
}
