"""The Python harness: shared by the end-to-end and deployment tests, scripts/demo.py, the
benchmarks (scripts/bench/) and deploy/sizing/measure.py. Installed into .venv by
scripts/setup.sh (`pip install -e tests/python/harness`) and imported as `support`.

Everything here runs real processes and real sockets on loopback only:

- `keyserver.KeyServer`: a Cognito-shaped JWKS host (`/<poolId>/.well-known/jwks.json`),
  keys added and removed at run time.
- `tokens`: Cognito access and ID tokens, good and deliberately bad, signed with those keys.
- `upstream.EchoServer`: the protected application; answers every request with the
  method, path and headers it received, as JSON.
- `envoy.derive`: the shipped `deploy/envoy/envoy.yaml` with structured edits (addresses,
  the commented TLS/CORS blocks switched on, ...); `envoy.EnvoyProxy`: a real Envoy
  running it on loopback.
- `service.AuthzService`: the `cognito-ext-authz serve` release binary.
- `moto.MotoCognito`: moto's Cognito emulator (`moto_server`), for tokens issued by a
  real Cognito API implementation.
- `http.request`: an HTTP/1.1 client that sends the path byte for byte (no URL
  normalization), so unsafe paths reach Envoy exactly as written.
- `pki`: CAs and certificates for TLS between Envoy and the service.
- `h2raw`: a minimal HTTP/2 gRPC client on a plain socket (probes, connection counts).
- `procs.ManagedProcess`: the one way a child process is started and stopped.
- `tools`: where the binaries are, and the one rule for a missing one (fail; skip loudly
  only with AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1).

Every wait has a deadline and every process is stopped with SIGTERM, then SIGKILL.
"""
