"""The resident app (/app): sign-in, home with the town services, my data, family mode, PWA."""
