//! A passkey in software, for HTTP tests of the ceremonies without a
//! browser: it answers WebAuthn's options as a platform authenticator
//! would (a P-256 key, a discoverable credential, the user verified), in
//! the JSON a browser's `credential.toJSON()` gives. The browser tests use
//! Chromium's own virtual authenticator instead.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One passkey: its key, its credential id, and the user it was made for.
pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    rp_id: String,
    origin: String,
    counter: u32,
}

/// A byte string, text string, map or small integer, in CBOR.
fn head(major: u8, len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![(major << 5) | len as u8],
        24..=255 => vec![(major << 5) | 24, len as u8],
        _ => {
            let [a, b] = (len as u16).to_be_bytes();
            vec![(major << 5) | 25, a, b]
        }
    }
}

fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len()), b.to_vec()].concat()
}

fn text(t: &str) -> Vec<u8> {
    [head(3, t.len()), t.as_bytes().to_vec()].concat()
}

impl SoftPasskey {
    /// Answers registration `options` (the server's, whole) for a page at
    /// `origin`: the new passkey, and the browser's answer to send back.
    pub fn register(options: &Value, origin: &str) -> (Self, Value) {
        let public = &options["publicKey"];
        let rp_id = public["rp"]["id"].as_str().expect("an RP ID").to_owned();
        let user_handle = B64
            .decode(public["user"]["id"].as_str().expect("a user id"))
            .unwrap();
        let key = loop {
            if let Ok(key) = SigningKey::from_slice(&rand::random::<[u8; 32]>()) {
                break key;
            }
        };
        let credential_id = rand::random::<[u8; 16]>().to_vec();
        let mut passkey = Self {
            key,
            credential_id,
            user_handle,
            rp_id,
            origin: origin.to_owned(),
            counter: 0,
        };
        let point = passkey.key.verifying_key().to_sec1_point(false);
        let point = point.as_bytes();
        assert_eq!(point.len(), 65, "an uncompressed P-256 point");
        // COSE: kty EC2 (1: 2), alg ES256 (3: -7), crv P-256 (-1: 1), x, y.
        let cose = [
            vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21],
            bytes(&point[1..33]),
            vec![0x22],
            bytes(&point[33..65]),
        ]
        .concat();
        let attested = [
            vec![0u8; 16], // AAGUID
            (passkey.credential_id.len() as u16).to_be_bytes().to_vec(),
            passkey.credential_id.clone(),
            cose,
        ]
        .concat();
        // Flags: user present, user verified, attested credential data.
        let auth_data = passkey.authenticator_data(0x45, &attested);
        let attestation = [
            vec![0xa3],
            text("fmt"),
            text("none"),
            text("attStmt"),
            vec![0xa0],
            text("authData"),
            bytes(&auth_data),
        ]
        .concat();
        let client_data =
            passkey.client_data("webauthn.create", public["challenge"].as_str().unwrap());
        let id = B64.encode(&passkey.credential_id);
        let answer = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(attestation),
                "clientDataJSON": B64.encode(client_data),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        });
        (passkey, answer)
    }

    /// Answers sign-in or confirmation `options` (the server's, whole).
    pub fn sign(&mut self, options: &Value) -> Value {
        let public = &options["publicKey"];
        assert_eq!(public["rpId"].as_str(), Some(self.rp_id.as_str()));
        // Flags: user present, user verified.
        let auth_data = self.authenticator_data(0x05, &[]);
        let client_data = self.client_data("webauthn.get", public["challenge"].as_str().unwrap());
        let signed = [auth_data.clone(), Sha256::digest(&client_data).to_vec()].concat();
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }

    /// The same passkey answering for a page at another origin: what a
    /// phishing site relaying the ceremony would get the browser to sign.
    pub fn at_origin(&mut self, origin: &str) -> &mut Self {
        self.origin = origin.to_owned();
        self
    }

    /// The same passkey claiming to be someone else's (the user handle is
    /// the browser's to send, not signed): as a forger would.
    pub fn claiming(&mut self, staff_id: &str) -> &mut Self {
        self.user_handle = uuid::Uuid::parse_str(staff_id).unwrap().as_bytes().to_vec();
        self
    }

    fn authenticator_data(&mut self, flags: u8, attested: &[u8]) -> Vec<u8> {
        self.counter += 1;
        [
            Sha256::digest(self.rp_id.as_bytes()).to_vec(),
            vec![flags],
            self.counter.to_be_bytes().to_vec(),
            attested.to_vec(),
        ]
        .concat()
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }
}
