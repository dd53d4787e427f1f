//! env_file
