//! Connecting: unreachable and silent servers, URL lists, credentials, no JetStream.

use super::support::*;

fn expect_connection_error(url: &str, timeout: Duration) -> (String, String, Duration) {
    let config = JetStreamConfig::new()
        .stream("UNREACHABLE")
        .unwrap()
        .connect_timeout(timeout);
    let started = Instant::now();
    let result = JetStreamStore::connect_with(url, config);
    let elapsed = started.elapsed();
    match result {
        Err(e @ StoreError::Connection { .. }) => {
            let text = error_text(&e);
            let StoreError::Connection { endpoint, .. } = e else {
                unreachable!()
            };
            (endpoint, text, elapsed)
        }
        other => panic!("expected StoreError::Connection for {url}, got {other:?}"),
    }
}

#[test]
fn a_refused_connection_names_the_address_without_the_password() {
    if testing::url().is_none() {
        return;
    }
    let port = free_port();
    let timeout = Duration::from_millis(1500);
    let (endpoint, text, elapsed) =
        expect_connection_error(&format!("nats://alice:s3cr3t@127.0.0.1:{port}"), timeout);
    assert_eq!(endpoint, format!("nats://127.0.0.1:{port}"));
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("s3cr3t"), "the password leaks: {text}");
    assert!(
        elapsed < timeout + Duration::from_secs(1),
        "took {elapsed:?}"
    );
}

#[test]
fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    if testing::url().is_none() {
        return;
    }
    // Accepts TCP connections (the kernel's backlog) but never says anything.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let timeout = Duration::from_millis(800);
    let (endpoint, text, elapsed) =
        expect_connection_error(&format!("nats://bob:hunter2@127.0.0.1:{port}"), timeout);
    assert_eq!(endpoint, format!("nats://127.0.0.1:{port}"));
    assert!(!text.contains("hunter2"), "the password leaks: {text}");
    // It did wait for the server (not refused on the spot, say for a URL it cannot parse)...
    assert!(
        elapsed >= timeout / 2,
        "gave up after {elapsed:?}, before the timeout: {text}"
    );
    // ...but not much longer than the timeout.
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?} with a connect timeout of {timeout:?}"
    );
    drop(silent);
}

#[test]
fn a_list_of_urls_connects_to_the_one_that_answers() {
    let Some(test) = TestStream::new() else {
        return;
    };
    let dead = format!("nats://127.0.0.1:{}", free_port());
    for urls in [
        format!("{},{dead}", test.url()),
        format!("{dead}, {}", test.url()),
    ] {
        let store = JetStreamStore::connect_with(&urls, test.config())
            .unwrap_or_else(|e| panic!("connect to {urls}: {}", error_text(&e)));
        store
            .append("s", ExpectedVersion::Any, vec![event("E", "{}".into())])
            .unwrap();
    }
    // With every server down, the error names them all.
    let other_dead = format!("nats://127.0.0.1:{}", free_port());
    let (endpoint, _, _) = expect_connection_error(
        &format!(
            "nats://u:pw@{},{other_dead}",
            dead.trim_start_matches("nats://")
        ),
        Duration::from_millis(500),
    );
    assert_eq!(endpoint, format!("{dead},{other_dead}"));
}

#[test]
fn a_server_without_jetstream_is_a_clear_backend_error() {
    if testing::url().is_none() {
        return;
    }
    // A server of its own, started without -js.
    let port = free_port();
    let mut child = Command::new(server_binary())
        .args(["-a", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let config = JetStreamConfig::new()
        .stream("NOJS")
        .unwrap()
        .request_timeout(Duration::from_millis(1000));
    let called = Instant::now();
    let result = JetStreamStore::connect_with(&format!("nats://127.0.0.1:{port}"), config);
    let took = called.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    match result {
        Err(e @ StoreError::Backend { .. }) => {
            let text = error_text(&e);
            eprintln!("without JetStream ({took:?}): {text}");
            assert!(text.contains("stream"), "names what it was doing: {text}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn credentials_reach_the_server_but_no_error_or_debug_output() {
    if testing::url().is_none() {
        return;
    }
    let server = PrivateServer::start_with(&["--user", "alice", "--pass", "s3cr3t-pw"]);
    let address = format!("127.0.0.1:{}", server.port);
    let timeout = Duration::from_secs(2);
    let (endpoint, text, elapsed) =
        expect_connection_error(&format!("nats://alice:wrong-pw@{address}"), timeout);
    assert_eq!(endpoint, format!("nats://{address}"));
    assert!(!text.contains("wrong-pw"), "the password leaks: {text}");
    assert!(
        elapsed < timeout + Duration::from_secs(1),
        "took {elapsed:?}"
    );

    let config = JetStreamConfig::new().stream("AUTH").unwrap();
    let store = JetStreamStore::connect_with(&format!("nats://alice:s3cr3t-pw@{address}"), config)
        .unwrap_or_else(|e| panic!("connect with the right password: {}", error_text(&e)));
    store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![event("E", "{}".into())],
        )
        .unwrap();
    assert_eq!(store.endpoint(), format!("nats://{address}"));
    assert!(!format!("{store:?}").contains("s3cr3t"), "{store:?}");
}
