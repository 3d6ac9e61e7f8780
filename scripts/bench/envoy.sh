#!/usr/bin/env bash
# Prints an Envoy bootstrap for one benchmark configuration.
#
#   envoy.sh MODE LISTEN_PORT ADMIN_PORT [AUTHZ_PORT | JWKS_FILE ISSUER]
#
# MODE: none      no authentication at all
#       jwt       Envoy's own jwt_authn (local JWKS, issuer set, no audiences, JWT cache on)
#       ext_authz the ext_authz filter calling a Check server on 127.0.0.1:AUTHZ_PORT,
#                 configured like deploy/envoy/envoy.yaml (HTTP/2 cluster, 0.5 s timeout,
#                 failure_mode_allow false), without health checks so that the do-nothing
#                 server (which has no health service) is measured the same way.
#
# The upstream is the route's direct_response (200 "ok"): it is answered by the router
# filter, after every filter above it ran, so nothing but the authentication differs
# between modes and no upstream server competes for the two cores.
set -euo pipefail
mode=$1 listen=$2 admin=$3

filters=""
clusters="  clusters: []"
case "$mode" in
  none) ;;
  jwt)
    jwks=$4 issuer=$5
    filters=$(cat <<YAML
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                cognito:
                  issuer: "$issuer"
                  local_jwks: { filename: "$jwks" }
                  forward: true
                  jwt_cache_config: { jwt_cache_size: 10000 }
              rules:
              - match: { prefix: "/" }
                requires: { provider_name: cognito }
YAML
)
    ;;
  ext_authz)
    port=$4
    filters=$(cat <<'YAML'
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              grpc_service:
                envoy_grpc: { cluster_name: authz }
                timeout: 0.5s
              failure_mode_allow: false
              status_on_error: { code: ServiceUnavailable }
              include_peer_certificate: false
YAML
)
    clusters=$(cat <<YAML
  clusters:
  - name: authz
    type: STATIC
    connect_timeout: 0.25s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options:
            connection_keepalive: { interval: 30s, timeout: 5s }
    load_assignment:
      cluster_name: authz
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: $port }
YAML
)
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

cat <<YAML
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: $admin }
static_resources:
  listeners:
  - name: ingress
    address:
      socket_address: { address: 127.0.0.1, port_value: $listen }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          normalize_path: true
          merge_slashes: true
          path_with_escaped_slashes_action: REJECT_REQUEST
          route_config:
            name: local_route
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: "ok\n" } }
          http_filters:
$filters
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
$clusters
YAML
