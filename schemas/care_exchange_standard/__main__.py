from care_exchange_standard.command import main

main()
