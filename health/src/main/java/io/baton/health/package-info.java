/**
 * Health checks of real servers: checkers, their scheduler and rise/fall state. Arrives with the health-check issue.
 */
package io.baton.health;
