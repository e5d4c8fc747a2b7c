import ArgumentParser

/// The journal directory, the first positional argument of every command that reads or
/// appends to a journal (`cat DIR`, `import DIR`, `info DIR`, …). Commands whose positional
/// argument is a URL (`record URL`) take `--journal DIR` instead.
struct JournalDirectoryArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The journal directory.", valueName: "DIR"))
    var directory: String
}
