//! gRPC reflection on the gRPC port: a reflection client lists the ext_authz and health
//! services and resolves their file descriptors, over `grpc.reflection.v1` and `v1alpha`;
//! `AUTHZ_REFLECTION=false` turns it off.

use prost::Message;
use prost_types::FileDescriptorProto;
use testkit::*;
use tonic_reflection::pb::{v1, v1alpha};

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - path: /health\n    auth: none\n";

/// A gRPC channel to the service, once its port is up.
async fn channel(service: &Service) -> tonic::transport::Channel {
    service.client().await;
    tonic::transport::Channel::from_shared(format!("http://{}", service.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Sends `requests` on one v1 reflection stream and collects the answers.
async fn ask_v1(
    service: &Service,
    requests: Vec<v1::server_reflection_request::MessageRequest>,
) -> Result<Vec<v1::server_reflection_response::MessageResponse>, tonic::Status> {
    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(channel(service).await);
    let stream = tokio_stream::iter(requests.into_iter().map(|r| v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r),
    }));
    let mut answers = client.server_reflection_info(stream).await?.into_inner();
    let mut out = Vec::new();
    while let Some(a) = answers.message().await? {
        out.push(a.message_response.unwrap());
    }
    Ok(out)
}

fn files(answer: &v1::server_reflection_response::MessageResponse) -> Vec<FileDescriptorProto> {
    match answer {
        v1::server_reflection_response::MessageResponse::FileDescriptorResponse(f) => f
            .file_descriptor_proto
            .iter()
            .map(|b| FileDescriptorProto::decode(b.as_slice()).unwrap())
            .collect(),
        other => panic!("not a file descriptor answer: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reflection_client_lists_and_describes_both_services() {
    use v1::server_reflection_request::MessageRequest as Ask;
    use v1::server_reflection_response::MessageResponse as Got;

    let keys = KeyServer::publishing(POOL, key(0)).await;
    let service = Service::start(BIN, &policy(&keys, ROUTES), &[]);
    let answers = ask_v1(
        &service,
        vec![
            Ask::ListServices(String::new()),
            Ask::FileContainingSymbol("envoy.service.auth.v3.Authorization".into()),
            Ask::FileContainingSymbol("grpc.health.v1.Health".into()),
            Ask::FileByFilename("envoy/service/auth/v3/attribute_context.proto".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(answers.len(), 4);

    let Got::ListServicesResponse(list) = &answers[0] else {
        panic!("{:?}", answers[0])
    };
    let mut names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "envoy.service.auth.v3.Authorization",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );

    // Envoy's Authorization service as proto/ defines it, with its dependencies.
    let authz = files(&answers[1]);
    let file = authz
        .iter()
        .find(|f| f.name() == "envoy/service/auth/v3/external_auth.proto")
        .expect("external_auth.proto");
    assert_eq!(file.package(), "envoy.service.auth.v3");
    let svc = &file.service[0];
    assert_eq!(svc.name(), "Authorization");
    assert_eq!(svc.method[0].name(), "Check");
    assert_eq!(
        svc.method[0].input_type(),
        ".envoy.service.auth.v3.CheckRequest"
    );
    assert_eq!(
        svc.method[0].output_type(),
        ".envoy.service.auth.v3.CheckResponse"
    );
    let check_request = file
        .message_type
        .iter()
        .find(|m| m.name() == "CheckRequest")
        .unwrap();
    assert_eq!(check_request.field[0].name(), "attributes");
    assert_eq!(check_request.field[0].number(), 1);

    let health = files(&answers[2]);
    assert!(
        health
            .iter()
            .any(|f| f.package() == "grpc.health.v1"
                && f.service.iter().any(|s| s.name() == "Health")),
        "{health:?}"
    );
    let attrs = files(&answers[3]);
    assert!(
        attrs[0]
            .message_type
            .iter()
            .any(|m| m.name() == "AttributeContext")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v1alpha_answers_older_clients() {
    use v1alpha::server_reflection_request::MessageRequest as Ask;
    use v1alpha::server_reflection_response::MessageResponse as Got;

    let keys = KeyServer::publishing(POOL, key(0)).await;
    let service = Service::start(BIN, &policy(&keys, ROUTES), &[]);
    service.client().await;
    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel(&service).await);
    let ask = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(Ask::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([ask]))
        .await
        .unwrap()
        .into_inner();
    let Some(Got::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list")
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "envoy.service.auth.v3.Authorization")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_can_be_switched_off() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let service = Service::start(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_REFLECTION", "false")],
    );
    let err = ask_v1(
        &service,
        vec![v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err:?}");
    // Checks are still answered.
    let mut client = service.client().await;
    let a = check(&mut client, request("GET", "h", "/health", &[])).await;
    assert_eq!(a.status, 200);
}
