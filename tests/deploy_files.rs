//! The files an operator deploys with: compose has no default database
//! password (it refuses to start without one), and the Docker build
//! context leaves the operator's secrets and databases out.

fn read(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn compose_refuses_to_start_without_a_database_password() {
    let compose = read("docker-compose.yml");
    let uses: Vec<&str> = compose
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("POSTGRES_PASSWORD"))
        .collect();
    assert!(
        uses.len() >= 2,
        "the server and the replicas use it: {uses:?}"
    );
    for line in uses {
        assert!(
            line.contains("${POSTGRES_PASSWORD:?"),
            "every use requires the variable (no `:-default`): {line}"
        );
    }
}

#[test]
fn the_docker_build_context_leaves_out_env_files_and_databases() {
    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in [".env", "*.db", "*.db-wal", "*.db-shm"] {
        assert!(
            patterns.contains(&needed),
            "{needed} is ignored: {patterns:?}"
        );
    }
    assert!(patterns.contains(&"!.env.example"), "the example stays");
}
