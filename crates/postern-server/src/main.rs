//! The `postern` binary.

fn main() -> std::process::ExitCode {
    postern_server::cli::run()
}
