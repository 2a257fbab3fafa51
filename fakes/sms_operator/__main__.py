from fakes.sms_operator.app import main

raise SystemExit(main())
