from fakes.bank.app import main

raise SystemExit(main())
