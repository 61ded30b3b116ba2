//! The messages between the supervisor and a serving process, over a `SOCK_SEQPACKET`
//! socket pair (one message per packet, one short text line each).

use std::os::fd::{AsFd, BorrowedFd};

/// Largest control message in bytes (each is one datagram).
const MAX: usize = 256;

/// What the supervisor and a serving process tell each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// Server → supervisor: it answered `FUSE_INIT` with these parameters.
    Init(crate::fs::Negotiated),
    /// Server → supervisor: started in standby, ready to take over.
    Ready,
    /// Server → supervisor: stopped at a request boundary, state saved; exiting.
    Stopped,
    /// Server → supervisor: the connection is gone (unmounted); exiting.
    Unmounted,
    /// Supervisor → server: take over the connection now.
    Serve,
    /// Supervisor → server: finish the requests you hold, save the state, exit.
    Stop,
    /// Supervisor → server: virtualise (LXCFS's SIGUSR2 toggle) or show host files.
    Virtualize(bool),
}

impl Message {
    fn encode(&self) -> String {
        match self {
            Message::Init(n) => format!("init {}", n.encode()),
            Message::Ready => "ready".into(),
            Message::Stopped => "stopped".into(),
            Message::Unmounted => "unmounted".into(),
            Message::Serve => "serve".into(),
            Message::Stop => "stop".into(),
            Message::Virtualize(on) => format!("virtualize {}", u8::from(*on)),
        }
    }

    fn decode(text: &str) -> Option<Message> {
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        Some(match word {
            "init" => Message::Init(crate::fs::Negotiated::decode(rest)?),
            "ready" => Message::Ready,
            "stopped" => Message::Stopped,
            "unmounted" => Message::Unmounted,
            "serve" => Message::Serve,
            "stop" => Message::Stop,
            "virtualize" => Message::Virtualize(rest == "1"),
            _ => return None,
        })
    }
}

/// Send `m` (a lost peer is not an error here: the process watching it notices).
pub(crate) fn send(fd: BorrowedFd<'_>, m: &Message) {
    if let Err(e) = nix::unistd::write(fd, m.encode().as_bytes()) {
        log::debug!("control message {m:?} not sent: {e}");
    }
}

/// Receive one message; `None` when the peer is gone. Unknown messages are skipped.
pub(crate) fn recv(fd: BorrowedFd<'_>) -> Option<Message> {
    let mut buf = [0u8; MAX];
    loop {
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                if let Some(m) = std::str::from_utf8(&buf[..n])
                    .ok()
                    .and_then(Message::decode)
                {
                    return Some(m);
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let n = crate::fs::Negotiated {
            minor: 45,
            max_write: 8192,
            flags: 0x80_0104_0021,
        };
        for m in [
            Message::Init(n),
            Message::Ready,
            Message::Stopped,
            Message::Unmounted,
            Message::Serve,
            Message::Stop,
            Message::Virtualize(false),
            Message::Virtualize(true),
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode("bogus"), None);
    }
}
