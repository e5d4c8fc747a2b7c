import WireTapeCLI

await WireTapeCommand.main()
