//! The two backends held to each other: the same keys accepted or refused, the same
//! signatures verified or not, the same digests.

use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPrivateKey};
use sha2::Sha256;

use super::aws_lc::AwsLc;
use super::rust_crypto::RustCrypto;
use super::{Backend, PublicKey};

fn private_key(bits: usize, exponent: u64) -> RsaPrivateKey {
    let mut rng = rand::thread_rng();
    RsaPrivateKey::new_with_exp(&mut rng, bits, &BigUint::from(exponent)).unwrap()
}

fn sign(key: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
    SigningKey::<Sha256>::new(key.clone())
        .sign(message)
        .to_vec()
}

fn both(n: &[u8], e: &[u8]) -> [Result<PublicKey, String>; 2] {
    [
        AwsLc::rsa_public_key(n, e),
        RustCrypto::rsa_public_key(n, e),
    ]
}

/// Whether each backend takes the key and verifies `signature` of `message` with it.
fn verdicts(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> [bool; 2] {
    both(n, e).map(|key| key.is_ok_and(|k| k.verify_rs256(message, signature)))
}

fn parts(key: &RsaPrivateKey) -> (Vec<u8>, Vec<u8>) {
    (key.n().to_bytes_be(), key.e().to_bytes_be())
}

#[test]
fn both_backends_verify_and_refuse_the_same_signatures() {
    let key = private_key(2048, 65537);
    let other = private_key(2048, 65537);
    let (n, e) = parts(&key);
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0";
    let good = sign(&key, message);

    assert_eq!(verdicts(&n, &e, message, &good), [true, true], "valid");
    let mut flipped = good.clone();
    flipped[100] ^= 1;
    let mut long = vec![0];
    long.extend(&good);
    let cases: [(&str, &[u8], Vec<u8>); 8] = [
        (
            "tampered message",
            b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiIn0",
            good.clone(),
        ),
        ("tampered signature", message, flipped),
        ("wrong key's signature", message, sign(&other, message)),
        ("empty signature", message, Vec::new()),
        ("one byte short", message, good[1..].to_vec()),
        ("leading zero byte added", message, long),
        ("signature equal to the modulus", message, n.clone()),
        ("all ones", message, vec![0xff; good.len()]),
    ];
    for (what, message, signature) in cases {
        assert_eq!(
            verdicts(&n, &e, message, &signature),
            [false, false],
            "{what}"
        );
    }
    // The other key never verifies this key's signature, in either backend.
    let (n2, e2) = parts(&other);
    assert_eq!(
        verdicts(&n2, &e2, message, &good),
        [false, false],
        "wrong key"
    );
}

#[test]
fn both_backends_accept_and_refuse_the_same_key_shapes() {
    let message = b"header.claims";
    let take =
        |key: &RsaPrivateKey, n: &[u8], e: &[u8]| verdicts(n, e, message, &sign(key, message));

    // 2056 bits: a modulus of 257 bytes, whose top limb is partly empty.
    for (bits, exponent, want) in [
        (2048, 65537, true),
        (3072, 3, true),
        (2056, 65537, true),
        (4096, 65537, true),
        (1024, 65537, false),
    ] {
        let key = private_key(bits, exponent);
        let (n, e) = parts(&key);
        assert_eq!(
            take(&key, &n, &e),
            [want, want],
            "{bits} bits, e = {exponent}"
        );
        // Leading zero bytes (a JWK may carry them) change nothing.
        let mut padded = vec![0, 0];
        padded.extend(&n);
        let mut e_padded = vec![0, 0, 0];
        e_padded.extend(&e);
        assert_eq!(
            take(&key, &padded, &e_padded),
            [want, want],
            "{bits} bits, zero-padded"
        );
    }

    let key = private_key(2048, 65537);
    let (n, _) = parts(&key);
    for e in [
        vec![],
        vec![1],
        vec![2],
        vec![0x01, 0x00, 0x00],
        vec![0x02, 0x00, 0x00, 0x00, 0x01],
        vec![0xff; 8],
    ] {
        let [aws, rust] = both(&n, &e).map(|k| k.is_ok_and(|k| k.verify_rs256(message, &[0; 256])));
        assert_eq!(aws, rust, "e = {e:02x?}");
        assert!(!aws, "e = {e:02x?}");
        assert!(
            RustCrypto::rsa_public_key(&n, &e).is_err(),
            "e = {e:02x?} is refused at once"
        );
    }
    // An even modulus (the key's, off by one).
    let mut even = n.clone();
    *even.last_mut().unwrap() ^= 1;
    let verdict = verdicts(&even, &[1, 0, 1], message, &sign(&key, message));
    assert_eq!(verdict, [false, false], "even modulus");
    // A modulus of 8193 bits and one of zero bytes.
    let mut huge = vec![0x01];
    huge.extend(vec![0xff; 1024]);
    for n in [huge, Vec::new(), vec![0; 256]] {
        let verdict = verdicts(&n, &[1, 0, 1], message, &vec![1; n.len()]);
        assert_eq!(verdict, [false, false], "{} modulus bytes", n.len());
        assert!(RustCrypto::rsa_public_key(&n, &[1, 0, 1]).is_err());
    }
}

#[test]
fn both_backends_agree_on_many_messages_and_mutated_signatures() {
    let key = private_key(2048, 65537);
    let (n, e) = parts(&key);
    for i in 0..40u32 {
        let message = format!("header.claims-{i}-{}", "x".repeat(i as usize * 37));
        let good = sign(&key, message.as_bytes());
        assert_eq!(
            verdicts(&n, &e, message.as_bytes(), &good),
            [true, true],
            "{i}"
        );
        let mut bad = good.clone();
        let at = (i as usize * 7) % bad.len();
        bad[at] = bad[at].wrapping_add(1 + i as u8);
        let verdict = verdicts(&n, &e, message.as_bytes(), &bad);
        assert_eq!(verdict[0], verdict[1], "{i}: byte {at} changed");
        assert!(!verdict[0], "{i}");
    }
}

#[test]
fn both_backends_digest_alike() {
    for data in [&b""[..], b"abc", &[0x5a; 1000]] {
        assert_eq!(AwsLc::sha256(data), RustCrypto::sha256(data));
    }
}

#[test]
fn the_service_keys_its_cache_by_a_sha_256_prefix() {
    let token = b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
    assert_eq!(AwsLc::token_key(token)[..], AwsLc::sha256(token)[..16]);
    assert_ne!(
        AwsLc::token_key(token),
        AwsLc::token_key(b"eyJhbGciOiJSUzI1NiJ9.e30.c2lo")
    );
}
