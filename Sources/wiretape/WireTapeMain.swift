import ArgumentParser
import WireTapeCLI

/// The executable's entry point: the async root command of WireTapeCLI.
@main
extension WireTapeCommand {}
