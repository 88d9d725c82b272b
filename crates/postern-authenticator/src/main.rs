//! `postern-authenticator`: see `postern_authenticator::cli`.

fn main() -> std::process::ExitCode {
    postern_authenticator::cli::main()
}
