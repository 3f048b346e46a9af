//! What parsing costs in memory once a message has passed the structural
//! limits, and what a rate-limit key costs. A separate binary: it installs
//! a counting global allocator. The tests take `SERIAL` so that one does
//! not count the other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use wsguard::schema::SchemaValidation;
use wsguard::{Guard, Message, Verdict};

/// Counts the bytes requested (not the allocator's own overhead) and the
/// peak of bytes live at once.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

// SAFETY: forwards every call to the system allocator unchanged; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
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
