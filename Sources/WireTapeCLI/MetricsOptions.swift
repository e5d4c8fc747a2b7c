import ArgumentParser

/// `--metrics-listen HOST:PORT`: serve Prometheus metrics while recording.
struct MetricsOptions: ParsableArguments {
    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free port; the address is printed on stderr).",
            valueName: "HOST:PORT"))
    var metricsListen: String?

    /// The address to listen on, if any: `127.0.0.1:9464`, `[::1]:9464`, `localhost:0`.
    func address() throws -> (host: String, port: Int)? {
        guard let text = metricsListen else { return nil }
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError("--metrics-listen must be HOST:PORT, like 127.0.0.1:9464; got '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--metrics-listen must be HOST:PORT with a port from 0 to 65535, like 127.0.0.1:9464; got '\(text)'")
        }
        return (host, port)
    }
}
