//! The connection core on ManualClock: every deadline without a socket.
