from cliproxy_cli.cli.app import main

main()
