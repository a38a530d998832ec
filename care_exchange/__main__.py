from care_exchange.cli import main

main()
