"""Shared helpers for the end-to-end tests and the demo.

Everything here runs real processes and real sockets on loopback only:

- `keyserver.KeyServer`: a Cognito-shaped JWKS host (`/<poolId>/.well-known/jwks.json`),
  keys added and removed at run time.
- `tokens`: Cognito access and ID tokens, good and deliberately bad, signed with those keys.
- `upstream.EchoServer`: the protected application; answers every request with the
  method, path and headers it received, as JSON.
- `envoy.EnvoyProxy`: a real Envoy running the shipped `deploy/envoy/envoy.yaml`.
- `service.AuthzService`: the `cognito-ext-authz serve` release binary.
- `moto.MotoCognito`: moto's Cognito emulator (`moto_server`), for tokens issued by a
  real Cognito API implementation.
- `http.request`: an HTTP/1.1 client that sends the path byte for byte (no URL
  normalization), so unsafe paths reach Envoy exactly as written.
- `tools`: where the binaries are, and how a missing one fails (CI) or skips (elsewhere).

Every wait has a deadline and every process is stopped with SIGTERM, then SIGKILL.
"""
