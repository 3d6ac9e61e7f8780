"""moto's Cognito emulator (`moto_server`) as a real token issuer.

moto implements the Cognito Identity Provider API: it creates pools and app clients,
signs tokens from `AdminInitiateAuth` with its own RSA key, and serves that key at
`http://HOST:PORT/{poolId}/.well-known/jwks.json`. Its tokens carry the *real* AWS
issuer (`https://cognito-idp.{region}.amazonaws.com/{poolId}`, checked in the tests), so a
policy for a moto pool overrides only `jwksUri`, never `issuer`.

`AdminInitiateAuth` access tokens carry only the `aws.cognito.signin.user.admin` scope:
custom scopes need the OAuth endpoints, which moto does not offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .procs import DEADLINE_SECONDS, ManagedProcess, free_port, http_status, wait_until

REGION = "us-east-1"


@dataclass
class MotoUser:
    pool_id: str
    client_id: str
    username: str
    access_token: str
    id_token: str


class MotoCognito:
    def __init__(self, moto_bin: Path, workdir: Path, ready_timeout: float = DEADLINE_SECONDS) -> None:
        self.port = free_port()
        self.process = ManagedProcess(
            "moto", [moto_bin, "-H", "127.0.0.1", "-p", str(self.port)], workdir / "moto.log"
        )
        try:
            # moto answers GET /moto-api/ once its Flask app is up.
            wait_until(
                lambda: http_status(f"{self.endpoint}/moto-api/") == 200,
                ready_timeout,
                f"moto_server on port {self.port}",
                interval=0.1,
                on_timeout=self.process.log_tail,
            )
        except BaseException:
            self.process.stop()
            raise
        import boto3  # only now: a missing moto is reported before a missing boto3 matters

        self.client = boto3.client(
            "cognito-idp",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def jwks_uri(self, pool_id: str) -> str:
        return f"{self.endpoint}/{pool_id}/.well-known/jwks.json"

    def create_user(self, username: str = "alice", password: str = "Corr3ct-Horse!") -> MotoUser:
        """A pool, an app client allowing admin password auth, a confirmed user, and tokens."""
        pool_id = self.client.create_user_pool(PoolName="e2e-pool")["UserPool"]["Id"]
        client_id = self.client.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="e2e-app",
            ExplicitAuthFlows=["ADMIN_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]["ClientId"]
        self.client.admin_create_user(
            UserPoolId=pool_id, Username=username, TemporaryPassword="Temp-Passw0rd!", MessageAction="SUPPRESS"
        )
        self.client.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
        auth = self.client.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )["AuthenticationResult"]
        return MotoUser(pool_id, client_id, username, auth["AccessToken"], auth["IdToken"])

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> "MotoCognito":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
