//! RS256 verification (RSA-2048, PKCS#1 v1.5, SHA-256) with each cryptography backend, the
//! key parsed once as the key sets do: what an uncached check costs in the service
//! (aws-lc) and, natively, in the in-process filter (RustCrypto; docs/performance.md has
//! the figure inside Envoy's V8 runtime as well).
//!
//! `cargo bench -p cognito-ext-authz-core --features rust-crypto --bench rs256`

use criterion::{Criterion, criterion_group, criterion_main};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use sha2::Sha256;

use cognito_ext_authz_core::crypto::Backend;
use cognito_ext_authz_core::crypto::aws_lc::AwsLc;
use cognito_ext_authz_core::crypto::rust_crypto::RustCrypto;

fn rs256(c: &mut Criterion) {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("a key");
    // About the size of a Cognito access token's signing input.
    let message = vec![b'e'; 900];
    let signature = SigningKey::<Sha256>::new(key.clone())
        .sign(&message)
        .to_vec();
    let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
    let mut group = c.benchmark_group("rs256_verify_2048");
    let aws = AwsLc::rsa_public_key(&n, &e).expect("aws-lc takes the key");
    assert!(aws.verify_rs256(&message, &signature));
    group.bench_function("aws-lc", |b| {
        b.iter(|| aws.verify_rs256(&message, &signature))
    });
    let rust = RustCrypto::rsa_public_key(&n, &e).expect("RustCrypto takes the key");
    assert!(rust.verify_rs256(&message, &signature));
    group.bench_function("rust-crypto", |b| {
        b.iter(|| rust.verify_rs256(&message, &signature))
    });
    group.finish();
    let mut group = c.benchmark_group("sha256_1k");
    group.bench_function("aws-lc", |b| b.iter(|| AwsLc::sha256(&message)));
    group.bench_function("rust-crypto", |b| b.iter(|| RustCrypto::sha256(&message)));
    group.finish();
}

criterion_group!(benches, rs256);
criterion_main!(benches);
