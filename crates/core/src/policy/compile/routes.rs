//! Compiling the routes: each route checked (path template, methods, hosts, access,
//! authorizer, scopes and groups, its name) and turned into a [`RouteSpec`] for the
//! [`RouteTable`](super::super::table::RouteTable); two routes that would shadow each
//! other are refused with both places named.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::Authorizer;
use super::super::model::{AuthMode, Mode, PolicyFile, TokenUse};
use super::super::rules::{METHODS, default_route_name, is_scope_name};
use super::super::table::{Access, HostPattern, Route, RoutePlace, RouteSpec};
use super::super::template::PathTemplate;
use crate::errors::Located;

pub(super) fn compile_routes(
    file: &PolicyFile,
    places: &[RoutePlace],
    authorizers: &[Authorizer],
    default_authorizer: Option<usize>,
    errors: &mut Vec<Located>,
) -> Vec<RouteSpec> {
    let mut specs = Vec::new();
    // A written name is unique in the policy; a name made from the method and path is
    // unique in its file (in a folder, two teams' `GET /health` on their own hosts).
    let mut names: HashMap<(Option<Arc<str>>, String), usize> = HashMap::new();
    // (shape, host, method) -> route index, to refuse routes that would shadow each other.
    let mut claimed: HashMap<(String, String, String), usize> = HashMap::new();
    for (i, route) in file.routes.iter().enumerate() {
        let place = &places[i];
        let at = match &route.name {
            Some(name) => format!("{place} ({name})"),
            None => format!("{place} ({})", route.path),
        };
        let before = errors.len();
        let template = match PathTemplate::parse(&route.path) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(Located::new(format!("{at}.path"), e.to_string()));
                None
            }
        };
        let methods = compile_methods(route.methods.as_deref(), &at, errors);
        let hosts: Vec<HostPattern> = match &route.hosts {
            None => vec![HostPattern::Any],
            Some(list) if list.is_empty() => {
                errors.push(Located::new(
                    format!("{at}.hosts"),
                    "an empty list matches nothing; omit it to match any host",
                ));
                vec![]
            }
            Some(list) => list
                .iter()
                .filter_map(|h| {
                    HostPattern::parse(h)
                        .map_err(|e| {
                            errors.push(Located::new(format!("{at}.hosts"), e.to_string()))
                        })
                        .ok()
                })
                .collect(),
        };
        let public = route.auth == Some(AuthMode::None);
        let deny = route.auth == Some(AuthMode::Deny);
        if public && route.dry_run == Some(true) {
            errors.push(Located::new(
                format!("{at}.dryRun"),
                "an auth: none route lets every request through already",
            ));
        }
        let token_use = route.token_use.unwrap_or_default();
        let authorizer = match &route.authorizer {
            Some(name) => {
                let found = authorizers.iter().position(|a| &*a.name == name.as_str());
                if found.is_none() {
                    errors.push(Located::new(
                        format!("{at}.authorizer"),
                        format!("{name:?} is not one of the authorizers"),
                    ));
                }
                found.unwrap_or(0)
            }
            None => match default_authorizer {
                Some(d) => d,
                None => {
                    if !public && !deny {
                        errors.push(Located::new(
                            at.to_string(),
                            "name its authorizer (there are several and no defaultAuthorizer)",
                        ));
                    }
                    0
                }
            },
        };
        if token_use == TokenUse::Id && route.scopes.is_some() {
            errors.push(Located::new(at.to_string(), "`tokenUse: id` is for routes without scopes (API Gateway checks scopes on access tokens only)"));
        }
        if (public || deny) && (route.token_use.is_some() || route.authorizer.is_some()) {
            errors.push(Located::new(at.to_string(), "an `auth: none` or `auth: deny` route reads no token, so it takes no authorizer or tokenUse"));
        }
        let scopes = compile_names(route.scopes.as_deref(), "scopes", &at, errors);
        let groups = compile_names(route.groups.as_deref(), "groups", &at, errors);
        if public && (!scopes.is_empty() || !groups.is_empty()) {
            errors.push(Located::new(
                at.to_string(),
                "`auth: none` makes the route public, so it cannot also require scopes or groups",
            ));
        }
        if deny && (!scopes.is_empty() || !groups.is_empty()) {
            errors.push(Located::new(
                at.to_string(),
                "`auth: deny` refuses every request, so it cannot also require scopes or groups",
            ));
        }
        let name = route
            .name
            .clone()
            .unwrap_or_else(|| default_route_name(&methods, &route.path));
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            errors.push(Located::new(
                format!("{at}.name"),
                format!("{name:?} is not a usable name"),
            ));
        }
        let scope = match route.name {
            Some(_) => None,
            None => place.file.clone(),
        };
        if let Some(first) = names.insert((scope, name.clone()), i) {
            errors.push(Located::new(
                format!("{at}.name"),
                format!("{name:?} is already the name of {}", places[first]),
            ));
        }
        let Some(template) = template else { continue };
        if errors.len() > before {
            continue;
        }
        let shape = template.shape();
        let method_keys: Vec<String> = if methods.is_empty() {
            vec!["ANY".to_owned()]
        } else {
            methods.clone()
        };
        'claims: for host in &hosts {
            let host_key = format!("{host:?}");
            for method in &method_keys {
                let key = (shape.clone(), host_key.clone(), method.clone());
                if let Some(first) = claimed.insert(key, i) {
                    errors.push(Located::new(
                        at.to_string(),
                        format!(
                            "duplicates {} (same path {shape}, method {method} and hosts)",
                            places[first]
                        ),
                    ));
                    break 'claims;
                }
            }
        }
        specs.push(RouteSpec {
            route: Route {
                name: Arc::from(name),
                file: place.file.clone(),
                index: place.index,
                authorizer,
                token_use,
                template: template.clone(),
                methods: methods.clone(),
                hosts: route.hosts.clone().unwrap_or_default(),
                access: if public {
                    Access::Public
                } else if deny {
                    Access::Deny
                } else {
                    Access::Protected
                },
                scopes,
                groups,
                dry_run: match route.dry_run {
                    Some(explicit) => explicit,
                    None => file.mode == Mode::DryRun && !deny,
                },
            },
            template,
            hosts,
            methods,
        });
    }
    specs
}

fn compile_methods(methods: Option<&[String]>, at: &str, errors: &mut Vec<Located>) -> Vec<String> {
    let Some(list) = methods else {
        return Vec::new();
    };
    if list.is_empty() {
        errors.push(Located::new(
            format!("{at}.methods"),
            "an empty list matches nothing; omit it to match any method",
        ));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for m in list {
        let upper = m.trim().to_ascii_uppercase();
        if upper == "ANY" || upper == "*" {
            if list.len() > 1 {
                errors.push(Located::new(
                    format!("{at}.methods"),
                    "ANY cannot be combined with other methods",
                ));
            }
            return Vec::new();
        }
        if !METHODS.contains(&upper.as_str()) {
            errors.push(Located::new(
                format!("{at}.methods"),
                format!("{m:?} is not one of {} or ANY", METHODS.join(", ")),
            ));
        } else if out.contains(&upper) {
            errors.push(Located::new(
                format!("{at}.methods"),
                format!("{upper} is listed twice"),
            ));
        } else {
            out.push(upper);
        }
    }
    out
}

fn compile_names(
    list: Option<&[String]>,
    field: &str,
    at: &str,
    errors: &mut Vec<Located>,
) -> Vec<String> {
    let Some(list) = list else {
        return Vec::new();
    };
    if list.is_empty() {
        errors.push(Located::new(
            format!("{at}.{field}"),
            format!("an empty list is ambiguous; omit {field} to require only a valid token"),
        ));
    }
    for s in list {
        if !is_scope_name(s) {
            errors.push(Located::new(
                format!("{at}.{field}"),
                format!("{s:?} is not a valid name (no spaces)"),
            ));
        }
    }
    list.to_vec()
}
