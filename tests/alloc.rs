//! What parsing costs in memory once a message has passed the structural
//! limits, what a rate-limit key costs, and how many allocations a message
//! costs on its way through the stack. A separate binary: it installs a
//! counting global allocator. The tests take `SERIAL` so that one does not
//! count the other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use wsguard::schema::SchemaValidation;
use wsguard::{Guard, Message, Verdict};

/// Counts the bytes requested (not the allocator's own overhead), the
/// peak of bytes live at once, and each thread's calls.
struct Counting;

thread_local! {
    /// Allocations made by this thread: the test harness's own threads
    /// allocate while a test runs, so a global count would not be exact.
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

// SAFETY: forwards every call to the system allocator unchanged; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: same layout, as the caller guarantees for `alloc`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Shapes that maximise parsed size per input byte, each just inside the
/// default structural limits and the 64 KiB message limit.
fn worst_cases() -> Vec<(&'static str, String)> {
    let many = |item: &str, per: usize| format!("[{}]", vec![item; per].join(","));
    let zeros = many("0", 1000);
    let empties = many("[]", 1000);
    let object = format!("{{{}}}", (0..250).map(|i| format!(r#""{i:x}":0"#)).collect::<Vec<_>>().join(","));
    let fill = |inner: &str| many(inner, (60 * 1024) / (inner.len() + 1));
    vec![
        ("arrays of zeros", fill(&zeros)),
        ("arrays of empty arrays", fill(&empties)),
        ("objects of small keys", fill(&object)),
        ("strings", fill(&many(r#""""#, 1000))),
    ]
}

#[test]
fn parsing_a_message_within_the_limits_allocates_at_most_24_times_its_size() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let schemas = SchemaValidation::builder().allow_unknown_types(true).build().unwrap();
    let guard = Guard::builder().without_auth().json_schema(schemas).build().unwrap();
    for (shape, text) in worst_cases() {
        assert!(text.len() <= 64 * 1024, "{shape}: {} bytes", text.len());
        let mut session = guard.new_session(None);
        let message = Message::text(text.clone());
        let before = LIVE.load(Ordering::SeqCst);
        PEAK.store(before, Ordering::SeqCst);
        let verdict = guard.inbound(message, &mut session);
        assert!(matches!(verdict, Verdict::Deliver(_)), "{shape} must pass the limits: {verdict:?}");
        let peak = PEAK.load(Ordering::SeqCst) - before;
        let ratio = peak as f64 / text.len() as f64;
        eprintln!("{shape}: {} bytes of text, peak {peak} bytes allocated ({ratio:.1}x)", text.len());
        assert!(ratio <= 24.0, "{shape}: {ratio:.1}x");
    }
}

#[test]
fn a_tracked_rate_limit_key_costs_about_100_bytes_plus_its_id() {
    use std::num::NonZeroU32;
    use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
    use wsguard::{Frame, Layer, Principal};

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guard = Guard::builder().without_auth().build().unwrap();
    let now = std::time::Instant::now();
    let keys = 100_000;
    let before = LIVE.load(Ordering::SeqCst);
    let limit = RateLimit::builder()
        .quota(Quota::per_second(NonZeroU32::new(10).unwrap()), Unit::Messages, Per::Principal)
        .build()
        .unwrap();
    for i in 0..keys {
        let mut session = guard.new_session(None);
        // 11-byte ids.
        session.set_principal(Some(Principal::new(format!("user-{i:06}")))).unwrap();
        assert!(limit.on_inbound(&mut Frame::from_text("x"), &mut session, now).is_pass());
    }
    let per_key = (LIVE.load(Ordering::SeqCst) - before) as f64 / f64::from(keys);
    eprintln!("{keys} rate-limit keys: {per_key:.0} bytes each, 11 of them the id");
    assert!((40.0..=130.0).contains(&per_key), "{per_key:.0} bytes per key");
}

/// Allocations per message through `guard`, inbound then outbound, after
/// a first message has set up the connection's state: (inbound, outbound),
/// as a mean over 100 messages each way.
fn allocations_per_message(guard: &Guard, text: &str) -> (f64, f64) {
    let request = http::Request::get("/ws")
        .header("origin", "https://chat.example")
        .header("authorization", "Bearer alice-token")
        .body(())
        .unwrap();
    let mut session = guard.new_session(None);
    guard.check_handshake(&request, &mut session).unwrap();
    let message = Message::text(text.to_owned());
    for _ in 0..2 {
        assert_eq!(guard.inbound(message.clone(), &mut session), Verdict::Deliver(message.clone()));
        assert_eq!(guard.outbound(message.clone(), &mut session), Verdict::Deliver(message.clone()));
    }
    let mut counts = [0.0; 2];
    for (k, count) in counts.iter_mut().enumerate() {
        let before = ALLOCS.with(std::cell::Cell::get);
        for _ in 0..100 {
            let verdict = if k == 0 {
                guard.inbound(message.clone(), &mut session)
            } else {
                guard.outbound(message.clone(), &mut session)
            };
            assert!(matches!(verdict, Verdict::Deliver(_)));
        }
        *count = (ALLOCS.with(std::cell::Cell::get) - before) as f64 / 100.0;
    }
    (counts[0], counts[1])
}

/// The pass path of limits, origin, a static token, a per-type rate quota
/// and plain RBAC rules allocates nothing; schema validation and the PII
/// scrubber do, and their counts are printed (README, "Performance").
#[test]
fn the_pass_path_without_schema_and_pii_allocates_nothing() {
    use std::num::NonZeroU32;

    use wsguard::auth::{Authenticator, StaticTokens};
    use wsguard::layer::OriginPolicy;
    use wsguard::pii::{Action, Scrubber};
    use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
    use wsguard::rbac::Policy;
    use wsguard::{AuthDecided, GuardBuilder, Principal};

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let base = || -> GuardBuilder<AuthDecided> {
        let tokens = StaticTokens::new().token("alice-token", Principal::new("alice").with_roles(["user"]));
        let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
        Guard::builder()
            .with_authenticator(Authenticator::builder().bearer_header().build(tokens).unwrap())
            .origin(OriginPolicy::new(["https://chat.example"]).unwrap())
            .rate_limit(
                RateLimit::builder()
                    .quota(quota, Unit::Messages, Per::Connection)
                    .quota_for_type("chat", quota, Unit::Messages, Per::Connection)
                    .build()
                    .unwrap(),
            )
            .rbac(
                Policy::new()
                    .role("user", ["chat:send", "chat:read"])
                    .inbound("chat", "chat:send")
                    .outbound("chat", "chat:read")
                    .build()
                    .unwrap(),
            )
    };
    let chat = format!(r#"{{"type":"chat","room":"lobby","text":"{}"}}"#, "Are we still on for tomorrow? ".repeat(8));
    let plain = base().build().unwrap();
    let (inbound, outbound) = allocations_per_message(&plain, &chat);
    eprintln!("limits, origin, token, rate limit, plain RBAC: {inbound} allocations inbound, {outbound} outbound");
    assert_eq!((inbound, outbound), (0.0, 0.0), "the pass path allocates");

    let schema = SchemaValidation::builder()
        .schema("chat", serde_json::json!({"type": "object", "required": ["type", "room", "text"]}))
        .build()
        .unwrap();
    let full = base()
        .json_schema(schema)
        .scrub_pii(Scrubber::builder().default_action(Action::Mask).build().unwrap())
        .build()
        .unwrap();
    let (inbound, outbound) = allocations_per_message(&full, &chat);
    eprintln!("+ schema, + PII (nothing found): {inbound} allocations inbound, {outbound} outbound");
    // Inbound, the schema's tree of this message: a map of three members
    // and their strings. Outbound, with nothing to mask, nothing.
    assert!(inbound > 0.0 && inbound <= 12.0, "{inbound}");
    assert_eq!(outbound, 0.0);
}
