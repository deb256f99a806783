use std::path::PathBuf;

use super::*;

struct Files {
    _dir: tempfile::TempDir,
    files: TlsFiles,
}

fn self_signed() -> rcgen::CertifiedKey {
    rcgen::generate_simple_self_signed(vec!["collector.test".to_owned()]).unwrap()
}

fn write(cert_pem: &str, key_pem: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert_pem).unwrap();
    std::fs::write(&files.key, key_pem).unwrap();
    Files { _dir: dir, files }
}

fn refusal(files: &TlsFiles) -> String {
    read_certified_key(files).unwrap_err().to_string()
}

#[test]
fn a_certificate_and_its_key_are_read() {
    let generated = self_signed();
    let written = write(&generated.cert.pem(), &generated.key_pair.serialize_pem());
    let key = read_certified_key(&written.files).unwrap();
    assert_eq!(key.cert.len(), 1);
    assert_eq!(key.cert[0].as_ref(), generated.cert.der().as_ref());
}

#[test]
fn a_key_of_another_certificate_is_refused_naming_both_files() {
    let one = self_signed();
    let other = self_signed();
    let written = write(&one.cert.pem(), &other.key_pair.serialize_pem());
    let error = refusal(&written.files);
    assert!(
        error.contains("does not belong to the certificate"),
        "{error}"
    );
    assert!(
        error.contains(&written.files.key.display().to_string()),
        "{error}"
    );
    assert!(
        error.contains(&written.files.cert.display().to_string()),
        "{error}"
    );
}

#[test]
fn files_swapped_or_missing_are_named() {
    let generated = self_signed();
    let swapped = write(&generated.key_pair.serialize_pem(), &generated.cert.pem());
    let error = refusal(&swapped.files);
    assert!(error.contains("no certificate in it"), "{error}");
    assert!(error.contains("cert.pem"), "{error}");

    let only_certs = write(&generated.cert.pem(), &generated.cert.pem());
    let error = refusal(&only_certs.files);
    assert!(error.contains("no PEM private key"), "{error}");
    assert!(error.contains("key.pem"), "{error}");

    let missing = TlsFiles {
        cert: PathBuf::from("/nonexistent/footfall/cert.pem"),
        key: PathBuf::from("/nonexistent/footfall/key.pem"),
    };
    let error = refusal(&missing);
    assert!(
        error.contains("/nonexistent/footfall/cert.pem: cannot read"),
        "{error}"
    );
}

#[test]
fn a_replaced_certificate_is_served_from_the_next_handshake() {
    let first = self_signed();
    let written = write(&first.cert.pem(), &first.key_pair.serialize_pem());
    let served = ServerCert::load(&written.files).unwrap();
    assert_eq!(served.get().cert[0].as_ref(), first.cert.der().as_ref());

    let renewed = self_signed();
    let rewritten = write(&renewed.cert.pem(), &renewed.key_pair.serialize_pem());
    served.replace(read_certified_key(&rewritten.files).unwrap());
    assert_eq!(served.get().cert[0].as_ref(), renewed.cert.der().as_ref());
}

#[test]
fn alpn_offers_http2_first() {
    let generated = self_signed();
    let written = write(&generated.cert.pem(), &generated.key_pair.serialize_pem());
    let config = server_config(Arc::new(ServerCert::load(&written.files).unwrap())).unwrap();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
}

#[test]
fn the_certificates_subject_and_expiry_are_read() {
    let mut params = rcgen::CertificateParams::new(vec!["collector.test".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "collector.test");
    let not_after = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    params.not_after = not_after;
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    let written = write(&cert.pem(), &key_pair.serialize_pem());
    let info = ServerCert::load(&written.files).unwrap().info().unwrap();
    assert_eq!(info.subject, "CN=collector.test");
    assert_eq!(info.not_after, not_after);
    assert_eq!(info.expires(), "2030-03-17T17:46:40.000Z");
}
