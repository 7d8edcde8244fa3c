//! Data on stdout. A reader that goes away early (`granary log --json | head`)
//! closes the pipe: the next write fails with EPIPE, and the process ends
//! quietly with exit 0 instead of panicking as `println!` would.

use std::io::Write;

/// Writes `args` to stdout and flushes it.
pub fn write(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `println!` for data on stdout, quiet when the reader has gone (see the module).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for data on stdout, quiet when the reader has gone.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}
