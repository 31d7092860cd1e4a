//! The texts `-h` and `--help_tls` print: nats-server's layout, listing what
//! Tern supports and which of nats-server's flags it only accepts.

/// nats-server's TLS flags, as both `-h` and `--help_tls` list them.
macro_rules! tls_options {
    () => {
        "\
TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification
"
    };
}

pub(super) const TLS_HELP: &str = concat!(
    tls_options!(),
    "
A `tls { ... }` block on the client port takes nats-server's keys:
cert_file, key_file, certs, ca_file, verify, timeout, handshake_first,
min_version, cipher_suites, curve_preferences.
"
);

/// The `-h` text, in nats-server's layout, listing what Tern supports.
pub fn usage() -> String {
    concat!(
        "\
Usage: tern [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for any free port)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -c, --config <file>              Configuration file (.toml for TOML, else nats-server syntax)
    -m, --http_port <port>           Use port for http monitoring (-1 for any free port)
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to tern process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --logtime_utc                Timestamps in UTC (Tern's are always UTC)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces the system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces the system account)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

",
        tls_options!(),
        "
Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help

Not supported yet (accepted so nats-server command lines parse; Tern refuses
to start while one is in use and names it):
    -ms, --https_port,
    -s, --syslog, -r, --remote_syslog, --log_size_limit, --profile,
    --routes, --cluster, --cluster_listen, --cluster_name, --cluster_advertise,
    --no_advertise, --connect_retries
"
    )
    .to_string()
}
