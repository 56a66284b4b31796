//! The scenarios, each an `async fn(Client)` run against both backends by `main.rs`.

use std::time::Duration;

use hyper::Method;
use serde_json::{json, Value};

use crate::client::{Client, Error, Response};

/// How long a live event may take to arrive.
const WAIT: Duration = Duration::from_secs(10);

/// Checks `response` is an error of `status` and `kind` with exactly the fields `error` (a
/// message) and `kind`; returns the message.
fn expect_error(response: &Response, status: u16, kind: &str) -> Result<String, Error> {
    let body = response.json()?;
    assert_eq!(response.status.as_u16(), status, "{body}");
    assert_eq!(body["kind"], kind, "{body}");
    let fields = body.as_object().ok_or("the error body is not an object")?;
    assert_eq!(fields.len(), 2, "only `error` and `kind`: {body}");
    let message = body["error"].as_str().ok_or("`error` is not text")?;
    assert!(!message.is_empty());
    Ok(message.to_owned())
}

/// Checks `response` is 200 (or `status`) and returns its JSON.
fn expect_ok(response: &Response, status: u16) -> Result<Value, Error> {
    let body = response.json()?;
    assert_eq!(response.status.as_u16(), status, "{body}");
    Ok(body)
}

/// Opens account `id` for `owner` with no overdraft.
async fn open(client: &Client, id: &str, owner: &str) -> Result<Value, Error> {
    let response = client
        .post_json("/accounts", &json!({ "id": id, "owner": owner }))
        .await?;
    expect_ok(&response, 201)
}

pub async fn every_route(client: Client) -> Result<(), Error> {
    // POST /accounts with an id, a correlation id echoed back and stamped on the event.
    let mut connection = client.connect().await?;
    let body = r#"{"id":"ada","owner":"Ada","overdraft_limit":50}"#;
    let headers = [("x-correlation-id", "signup-7")];
    let opened = connection
        .send(Method::POST, "/accounts", Some(body), &headers)
        .await?;
    let account = expect_ok(&opened, 201)?;
    assert_eq!(opened.header("location"), Some("/accounts/ada"));
    assert_eq!(opened.header("x-correlation-id"), Some("signup-7"));
    assert_eq!(
        account,
        json!({"id": "ada", "owner": "Ada", "balance": 0, "overdraft_limit": 50,
               "version": 1, "open": true})
    );

    // POST /accounts without an id: one is made up.
    let made_up = expect_ok(
        &client
            .post_json("/accounts", &json!({"owner": "Grace"}))
            .await?,
        201,
    )?;
    let id = made_up["id"].as_str().ok_or("no id")?;
    assert!(!id.is_empty() && id != "ada");
    let fetched = expect_ok(&client.get(&format!("/accounts/{id}")).await?, 200)?;
    assert_eq!(
        (
            fetched["owner"].as_str(),
            fetched["overdraft_limit"].as_u64()
        ),
        (Some("Grace"), Some(0))
    );

    // Deposit, withdraw into the overdraft, read the state.
    let deposited = expect_ok(
        &connection
            .post_json("/accounts/ada/deposit", &json!({"amount": 100}))
            .await?,
        200,
    )?;
    assert_eq!(
        (deposited["balance"].as_i64(), deposited["version"].as_u64()),
        (Some(100), Some(2))
    );
    let withdrawn = expect_ok(
        &connection
            .post_json("/accounts/ada/withdraw", &json!({"amount": 130}))
            .await?,
        200,
    )?;
    assert_eq!(withdrawn["balance"].as_i64(), Some(-30));
    let state = expect_ok(&client.get("/accounts/ada").await?, 200)?;
    assert_eq!(state, withdrawn);

    // GET /accounts/{id}/events: what the store recorded, with the correlation id.
    let events = expect_ok(&client.get("/accounts/ada/events").await?, 200)?;
    let events = events.as_array().ok_or("not an array")?;
    let types: Vec<_> = events.iter().map(|e| e["event_type"].as_str()).collect();
    assert_eq!(
        types,
        [
            Some("account.opened"),
            Some("account.deposited"),
            Some("account.withdrawn")
        ]
    );
    assert_eq!(events[0]["stream"], "account-ada");
    assert_eq!(
        events[0]["payload"],
        json!({"owner": "Ada", "overdraft_limit": 50})
    );
    assert_eq!(events[2]["payload"], json!({"amount": 130}));
    assert_eq!(events[2]["version"], 3);
    assert_eq!(events[0]["metadata"]["correlation_id"], "signup-7");
    assert!(
        events[1]["metadata"]["correlation_id"].is_string(),
        "a command without the header starts a conversation: {}",
        events[1]
    );

    // POST /accounts/{id}/close once the balance is back to zero.
    connection
        .post_json("/accounts/ada/deposit", &json!({"amount": 30}))
        .await?;
    let closed = expect_ok(
        &connection
            .send(Method::POST, "/accounts/ada/close", None, &[])
            .await?,
        200,
    )?;
    assert_eq!(
        (closed["open"].as_bool(), closed["version"].as_u64()),
        (Some(false), Some(5))
    );
    Ok(())
}

pub async fn business_errors(client: Client) -> Result<(), Error> {
    open(&client, "bob", "Bob").await?;
    let again = client
        .post_json("/accounts", &json!({"id": "bob", "owner": "Bob"}))
        .await?;
    expect_error(&again, 409, "already_open")?;

    let message = expect_error(
        &client
            .post_json("/accounts/bob/withdraw", &json!({"amount": 5}))
            .await?,
        409,
        "insufficient_funds",
    )?;
    assert!(message.contains("available: 0"), "{message}");
    expect_error(
        &client
            .post_json("/accounts/bob/deposit", &json!({"amount": 0}))
            .await?,
        422,
        "invalid_amount",
    )?;
    expect_error(
        &client
            .post_json("/accounts", &json!({"id": "eve", "owner": "  "}))
            .await?,
        422,
        "invalid_owner",
    )?;

    client
        .post_json("/accounts/bob/deposit", &json!({"amount": 7}))
        .await?;
    expect_error(
        &client.post("/accounts/bob/close", "").await?,
        409,
        "non_zero_balance",
    )?;
    client
        .post_json("/accounts/bob/withdraw", &json!({"amount": 7}))
        .await?;
    expect_ok(&client.post("/accounts/bob/close", "").await?, 200)?;
    expect_error(
        &client
            .post_json("/accounts/bob/deposit", &json!({"amount": 1}))
            .await?,
        409,
        "account_not_open",
    )?;

    // Nothing refused was recorded.
    let state = expect_ok(&client.get("/accounts/bob").await?, 200)?;
    assert_eq!(
        (state["balance"].as_i64(), state["version"].as_u64()),
        (Some(0), Some(4))
    );
    Ok(())
}

pub async fn bad_requests(client: Client) -> Result<(), Error> {
    open(&client, "carl", "Carl").await?;
    let deposit = "/accounts/carl/deposit";
    for (body, kind) in [
        (r#"{"amount":"#, "malformed_json"),
        ("not json", "malformed_json"),
        ("{}", "invalid_body"),
        (r#"{"amount":"ten"}"#, "invalid_body"),
        (r#"{"amount":-5}"#, "invalid_body"),
        (r#"{"amount":1.5}"#, "invalid_body"),
        (r#"{"amount":5,"currency":"EUR"}"#, "invalid_body"),
        ("[5]", "invalid_body"),
    ] {
        expect_error(&client.post(deposit, body).await?, 400, kind)?;
    }
    for body in [
        r#"{"owner":7}"#,
        r#"{"id":"x"}"#,
        r#"{"owner":"x","overdraft_limit":-1}"#,
    ] {
        expect_error(&client.post("/accounts", body).await?, 400, "invalid_body")?;
    }
    // No Content-Type: application/json.
    let mut connection = client.connect().await?;
    let bare = connection.send(Method::POST, deposit, None, &[]).await?;
    expect_error(&bare, 400, "missing_content_type")?;
    // Ids: letters, digits, `_` and `-`.
    expect_error(
        &client
            .post("/accounts/bad%20id/deposit", r#"{"amount":1}"#)
            .await?,
        400,
        "invalid_id",
    )?;
    expect_error(
        &client.get(&format!("/accounts/{}", "x".repeat(65))).await?,
        400,
        "invalid_id",
    )?;
    let with_slash = client
        .post_json("/accounts", &json!({"id": "a/b", "owner": "x"}))
        .await?;
    expect_error(&with_slash, 400, "invalid_id")?;
    // A resume point that is not a position.
    let resume = connection
        .send(
            Method::GET,
            "/events/live",
            None,
            &[("last-event-id", "soon")],
        )
        .await?;
    expect_error(&resume, 400, "invalid_last_event_id")?;

    let state = expect_ok(&client.get("/accounts/carl").await?, 200)?;
    assert_eq!(state["version"], 1, "no bad request recorded anything");
    Ok(())
}

pub async fn unknown_accounts_and_routes(client: Client) -> Result<(), Error> {
    expect_error(
        &client.get("/accounts/nobody").await?,
        404,
        "unknown_account",
    )?;
    expect_error(
        &client.get("/accounts/nobody/events").await?,
        404,
        "unknown_account",
    )?;
    for command in ["deposit", "withdraw"] {
        let path = format!("/accounts/nobody/{command}");
        let response = client.post_json(&path, &json!({"amount": 1})).await?;
        expect_error(&response, 404, "unknown_account")?;
    }
    expect_error(
        &client.post("/accounts/nobody/close", "").await?,
        404,
        "unknown_account",
    )?;
    expect_error(
        &client.get("/accounts/nobody/events").await?,
        404,
        "unknown_account",
    )?;

    expect_error(&client.get("/nowhere").await?, 404, "no_route")?;
    expect_error(&client.get("/accounts/a/b/c").await?, 404, "no_route")?;
    expect_error(
        &client.get("/accounts/a/deposit").await?,
        405,
        "method_not_allowed",
    )?;
    expect_error(
        &client.post("/events/live", "{}").await?,
        405,
        "method_not_allowed",
    )?;
    Ok(())
}

/// Reads the next message of `feed` as (position, type, recorded event).
async fn next_event(feed: &mut crate::client::LiveFeed) -> Result<(u64, String, Value), Error> {
    let message = feed.next(WAIT).await?.ok_or("the live feed ended")?;
    let data: Value = serde_json::from_str(&message.data)?;
    let id = message.id.ok_or("no id")?.parse()?;
    assert_eq!(data["position"], id, "the id is the position");
    Ok((id, message.event.ok_or("no event type")?, data))
}

pub async fn live_feed_sends_history_then_new_events(client: Client) -> Result<(), Error> {
    open(&client, "dora", "Dora").await?;
    client
        .post_json("/accounts/dora/deposit", &json!({"amount": 40}))
        .await?;

    let mut feed = client.live(None).await?;
    let (first, kind, _) = next_event(&mut feed).await?;
    assert_eq!((first, kind.as_str()), (1, "account.opened"));
    let (second, kind, data) = next_event(&mut feed).await?;
    assert_eq!((second, kind.as_str()), (2, "account.deposited"));
    assert_eq!(data["payload"]["amount"], 40);

    // Appended after the feed caught up: arrives without a new request.
    client
        .post_json("/accounts/dora/withdraw", &json!({"amount": 15}))
        .await?;
    let (third, kind, data) = next_event(&mut feed).await?;
    assert_eq!((third, kind.as_str()), (3, "account.withdrawn"));
    assert_eq!(
        (data["stream"].as_str(), data["payload"]["amount"].as_u64()),
        (Some("account-dora"), Some(15))
    );

    // A client that reconnects with Last-Event-ID resumes after it.
    let mut resumed = client.live(Some(second)).await?;
    assert_eq!(next_event(&mut resumed).await?.0, 3);
    open(&client, "erin", "Erin").await?;
    assert_eq!(next_event(&mut resumed).await?.1, "account.opened");
    assert_eq!(next_event(&mut feed).await?.0, 4);
    Ok(())
}

pub async fn thirty_two_clients_deposit_into_one_account(client: Client) -> Result<(), Error> {
    const CLIENTS: u64 = 32;
    const DEPOSITS: u64 = 10;
    open(&client, "pool", "Everyone").await?;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(async move {
                let mut connection = client.connect().await?;
                for d in 0..DEPOSITS {
                    // Distinct amounts 1..=320: a lost or doubled deposit shows in the sum.
                    let amount = c * DEPOSITS + d + 1;
                    let response = connection
                        .post_json("/accounts/pool/deposit", &json!({ "amount": amount }))
                        .await?;
                    expect_ok(&response, 200)?;
                }
                Ok::<(), Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let n = CLIENTS * DEPOSITS;
    let state = expect_ok(&client.get("/accounts/pool").await?, 200)?;
    assert_eq!(state["balance"].as_u64(), Some(n * (n + 1) / 2));
    assert_eq!(state["version"].as_u64(), Some(n + 1));
    let events = expect_ok(&client.get("/accounts/pool/events").await?, 200)?;
    let mut amounts: Vec<u64> = events
        .as_array()
        .ok_or("not an array")?
        .iter()
        .skip(1)
        .filter_map(|e| e["payload"]["amount"].as_u64())
        .collect();
    amounts.sort_unstable();
    assert_eq!(
        amounts,
        (1..=n).collect::<Vec<_>>(),
        "each deposit recorded once"
    );
    Ok(())
}
