// What a user of ukpd writes (it takes no base URL): print its answers as JSON for the test to check.
'use strict';
const UKPD = require('ukpd');

const [lat, lng, month] = process.argv.slice(2);

(async () => {
  const answers = {
    latest: await UKPD.streetLevel(lat, lng), // ukpd sends date=undefined here
    month: await UKPD.streetLevel(lat, lng, month),
    stops: await UKPD.stopAndSearch(lat, lng), // date=undefined too
    forces: await UKPD.forces(),
    force: await UKPD.forces('city-of-london'),
    lastUpdated: await UKPD.lastUpdated(),
    availability: await UKPD.availability(),
    categories: await UKPD.categories(),
  };
  process.stdout.write(JSON.stringify(answers));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
