//! The hostprep error type: what went wrong gathering a host's facts.

/// Everything that can go wrong gathering a host's facts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reaching the host or running the facts script failed.
    #[error(transparent)]
    Executor(#[from] executor::Error),
    /// Facts gathered from a host could not be understood.
    #[error("{host}: cannot read host facts: {message}")]
    Facts {
        /// The host.
        host: String,
        /// What was missing or malformed.
        message: String,
    },
}
