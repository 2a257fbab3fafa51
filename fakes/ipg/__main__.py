from fakes.ipg.app import main

raise SystemExit(main())
